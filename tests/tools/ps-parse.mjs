#!/usr/bin/env node
// ps-parse.mjs — parse PowerShell files with tree-sitter-powershell and report
// syntax errors (ERROR or MISSING nodes) as FILE:LINE:COLUMN: message.
// Exit status: 0 when every file parses cleanly, 1 when any has an error,
// 2 on usage or setup problems (run contrib/tests-deps.sh to install).
//
// usage: node tests/tools/ps-parse.mjs FILE...
import { readFileSync } from 'node:fs';
import v8 from 'node:v8';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// The grammar is a 1 MB wasm module: V8's optimizing tier would spend ~10 s of
// CPU compiling it in the background for a parse that takes milliseconds.
v8.setFlagsFromString('--liftoff-only');
const here = dirname(fileURLToPath(import.meta.url));
let Parser, Language;
try {
  ({ Parser, Language } = await import('web-tree-sitter'));
} catch (e) {
  console.error(`ps-parse: web-tree-sitter is not installed under ${here}/node_modules; run contrib/tests-deps.sh`);
  process.exit(2);
}
const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: node ps-parse.mjs FILE...');
  process.exit(2);
}
await Parser.init();
const wasm = join(here, 'node_modules', 'tree-sitter-powershell', 'tree-sitter-powershell.wasm');
let lang;
try {
  lang = await Language.load(wasm);
} catch (e) {
  console.error(`ps-parse: cannot load ${wasm}: ${e.message}; run contrib/tests-deps.sh`);
  process.exit(2);
}
const parser = new Parser();
parser.setLanguage(lang);

// Every ERROR or MISSING node, outermost first (children of an ERROR are skipped).
function problems(node, out) {
  if (node.type === 'ERROR' || node.isMissing) {
    out.push(node);
    return out;
  }
  if (!node.hasError) return out;
  for (let i = 0; i < node.childCount; i++) problems(node.child(i), out);
  return out;
}

let bad = 0;
for (const f of files) {
  let src;
  try {
    src = readFileSync(f, 'utf8');
  } catch (e) {
    console.error(`${f}: cannot read: ${e.message}`);
    bad++;
    continue;
  }
  if (src.charCodeAt(0) === 0xfeff) src = src.slice(1); // BOM
  const tree = parser.parse(src);
  const found = problems(tree.rootNode, []);
  if (found.length === 0) {
    console.log(`ok ${f}`);
  } else {
    bad++;
    for (const n of found.slice(0, 10)) {
      const p = n.startPosition;
      const what = n.isMissing ? `missing ${n.type}` : 'syntax error';
      const near = src.slice(n.startIndex, Math.min(n.endIndex, n.startIndex + 40)).replace(/\s+/g, ' ');
      console.log(`${f}:${p.row + 1}:${p.column + 1}: ${what} near '${near}'`);
    }
  }
  tree.delete();
}
process.exit(bad ? 1 : 0);
