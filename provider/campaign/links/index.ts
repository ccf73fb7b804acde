/**
 * @module
 * `@klarefi/pulumi/campaign-links`: the bulk campaign resource. Every state
 * file of a bulk campaign holds
 * `require("@klarefi/pulumi/campaign-links").campaignLinksProvider`: keep that
 * export here.
 */
export * from "./inputs";
export * from "./packed";
export * from "./plan";
export * from "./provider";
export * from "./resource";
