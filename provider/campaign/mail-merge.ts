/**
 * @module
 * The opt-in mail-merge export of a campaign. The file's format (columns,
 * writer and the CLI's reader) is contract/mail-merge.ts; re-exported here
 * for the package's public API.
 */
export { MAIL_MERGE_COLUMNS, type MailMergeRow, writeMailMerge } from "../../contract/mail-merge";
