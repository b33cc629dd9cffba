#!/usr/bin/env node
// schema-check.mjs — validate JSON documents against a JSON Schema (draft
// 2020-12) with ajv.
//
//   node schema-check.mjs SCHEMA [--valid] FILE... [--invalid FILE...]
//
// Files after --valid (the default) must pass; files after --invalid must
// fail. Prints one line per file; exits 1 when any expectation fails, 2 on
// usage or unreadable input.
import { readFileSync } from "node:fs";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

const args = process.argv.slice(2);
if (args.length < 2) {
  console.error("usage: schema-check.mjs SCHEMA [--valid] FILE... [--invalid FILE...]");
  process.exit(2);
}

function readJson(path) {
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch (e) {
    console.error(`${path}: ${e.message}`);
    process.exit(2);
  }
}

// strictRequired off: anyOf branches name required keys defined by the parent.
const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false, allowUnionTypes: true });
addFormats(ajv);
let validate;
try {
  validate = ajv.compile(readJson(args[0]));
} catch (e) {
  console.error(`${args[0]}: not a valid schema: ${e.message}`);
  process.exit(2);
}

let expectValid = true;
let failures = 0;
let checked = 0;
for (const arg of args.slice(1)) {
  if (arg === "--valid" || arg === "--invalid") {
    expectValid = arg === "--valid";
    continue;
  }
  const ok = validate(readJson(arg));
  checked++;
  if (ok === expectValid) {
    console.log(`ok   ${arg}: ${ok ? "valid" : "invalid, as expected"}`);
    continue;
  }
  failures++;
  if (ok) {
    console.log(`FAIL ${arg}: passes the schema, but should not`);
  } else {
    console.log(`FAIL ${arg}: does not pass the schema:`);
    for (const e of validate.errors) console.log(`       ${e.instancePath || "/"} ${e.message}`);
  }
}
console.log(`schema-check: ${checked} checked, ${failures} failed`);
process.exit(failures ? 1 : 0);
