// Command pulumi-sdkgen writes the Python SDK of a Pulumi package schema with
// Pulumi's own code generator (github.com/pulumi/pulumi/pkg/v3/codegen/python),
// the one `pulumi package gen-sdk` runs inside the Python language host.
//
//	pulumi-sdkgen <schema.json> <output folder>
//
// The output folder is emptied first. scripts/gen-sdk.sh runs it on the
// schema the provider plugin serves; see sdk/python/README.md.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/pkg/v3/codegen/python"
	"github.com/pulumi/pulumi/pkg/v3/codegen/schema"
)

const tool = "pulumi-sdkgen"

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", tool, err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) != 2 {
		return fmt.Errorf("usage: %s <schema.json> <output folder>", tool)
	}
	data, err := os.ReadFile(args[0])
	if err != nil {
		return err
	}
	var spec schema.PackageSpec
	if err := json.Unmarshal(data, &spec); err != nil {
		return fmt.Errorf("reading the schema %s: %w", args[0], err)
	}
	pkg, diags, err := schema.BindSpec(spec, noOtherPackages{}, schema.ValidationOptions{})
	if err != nil {
		return fmt.Errorf("binding the schema: %w", err)
	}
	if diags.HasErrors() {
		return fmt.Errorf("the schema is invalid: %s", diags.Error())
	}
	files, err := python.GeneratePackage(tool, pkg, nil, noOtherPackages{})
	if err != nil {
		return fmt.Errorf("generating the Python SDK: %w", err)
	}
	out := args[1]
	if err := os.RemoveAll(out); err != nil {
		return err
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		path := filepath.Join(out, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, files[name], 0o644); err != nil {
			return err
		}
	}
	fmt.Printf("%s: wrote %d files to %s\n", tool, len(names), out)
	return nil
}

// noOtherPackages is the schema loader of a package that references no other
// package: any request for one is an error (no plugin is started, nothing is
// downloaded).
type noOtherPackages struct{}

func (noOtherPackages) refuse(name string) error {
	return fmt.Errorf("the schema references package %q; %s generates self-contained packages only", name, tool)
}

func (l noOtherPackages) LoadPackage(name string, _ *semver.Version) (*schema.Package, error) {
	return nil, l.refuse(name)
}

func (l noOtherPackages) LoadPackageV2(_ context.Context, d *schema.PackageDescriptor) (*schema.Package, error) {
	return nil, l.refuse(d.Name)
}

func (l noOtherPackages) LoadPackageReference(name string, _ *semver.Version) (schema.PackageReference, error) {
	return nil, l.refuse(name)
}

func (l noOtherPackages) LoadPackageReferenceV2(
	_ context.Context, d *schema.PackageDescriptor,
) (schema.PackageReference, error) {
	return nil, l.refuse(d.Name)
}
