/**
 * @module
 * Campaigns: many applicants' links from rows or a CSV file.
 */
export * from "./component";
export * from "./mail-merge";
export * from "./rows";
export * from "./links";
