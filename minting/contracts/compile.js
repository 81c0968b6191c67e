// Compile the contracts with solc-js through the standard-JSON interface (offline, pinned solc),
// and write the ABI + bytecode artefact that minting/ loads at run time (no Node needed then).
// Usage: node compile.js [OUT.json]   (default: ../artefacts/contracts.json)
"use strict";
const fs = require("fs");
const path = require("path");
const solc = require("solc");

const here = __dirname;
const sources = {};
for (const f of ["LatentGallerySet.sol", "ReferenceERC721.sol"]) {
  sources[`src/${f}`] = { content: fs.readFileSync(path.join(here, "src", f), "utf8") };
}
const input = {
  language: "Solidity",
  sources,
  settings: {
    evmVersion: "cancun",
    optimizer: { enabled: true, runs: 200 },
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } },
  },
};

function findImports(p) {
  for (const base of [path.join(here, "node_modules"), here]) {
    const full = path.join(base, p);
    if (fs.existsSync(full)) return { contents: fs.readFileSync(full, "utf8") };
  }
  return { error: `not found: ${p}` };
}

const out = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
const errors = (out.errors || []).filter((e) => e.severity === "error");
for (const e of out.errors || []) process.stderr.write(e.formattedMessage + "\n");
if (errors.length) process.exit(1);

const pkg = (name) => JSON.parse(fs.readFileSync(path.join(here, "node_modules", name, "package.json"))).version;
const artefact = {
  compiler: { solc: solc.version(), evmVersion: input.settings.evmVersion, optimizerRuns: 200 },
  libraries: { erc721a: pkg("erc721a"), "@openzeppelin/contracts": pkg("@openzeppelin/contracts") },
  contracts: {},
};
for (const [file, contracts] of Object.entries(out.contracts)) {
  for (const [name, c] of Object.entries(contracts)) {
    if (!file.startsWith("src/")) continue;
    artefact.contracts[name] = { source: file, abi: c.abi, bytecode: "0x" + c.evm.bytecode.object };
  }
}
const dest = process.argv[2] || path.join(here, "..", "artefacts", "contracts.json");
fs.mkdirSync(path.dirname(dest), { recursive: true });
fs.writeFileSync(dest, JSON.stringify(artefact, null, 1) + "\n");
process.stdout.write(`wrote ${dest}: ${Object.keys(artefact.contracts).join(", ")}\n`);
