// Offline schema check of Kubernetes manifests (no API server needed): every object is checked
// with the ajv validators that kubernetes-models precompiles from the Kubernetes OpenAPI, and
// monitoring.coreos.com objects with @kubernetes-models/prometheus-operator. Catches wrong
// types, bad enum values and missing required fields; not misspelled field names (the schemas
// are not strict).
//
// usage: node validate.mjs FILE.yaml [...]     exit 1 on any invalid or unknown object
// Packages: kubernetes-models@5.1.0 @kubernetes-models/prometheus-operator@6.0.0 yaml@2, found
// in the node_modules folder named by SR2_NODE_MODULES (scripts/check-deploy.sh sets it) or by
// normal resolution from this file.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const modulesRoot = process.env.SR2_NODE_MODULES;
// Imports a package subpath from SR2_NODE_MODULES by file path (the packages are ESM-only and
// their exports map "pkg/x" to "pkg/x/index.js"), else by name.
const load = (pkg, subpath, file) =>
  modulesRoot
    ? import(pathToFileURL(join(modulesRoot, pkg, file)).href)
    : import(subpath ? `${pkg}/${subpath}` : pkg);

const { parseAllDocuments } = await load("yaml", "", "dist/index.js");

const modelModule = (apiVersion) => {
  const [group, version] = apiVersion.includes("/") ? apiVersion.split("/") : ["", apiVersion];
  const pkg = group === "monitoring.coreos.com" ? "@kubernetes-models/prometheus-operator"
                                                : "kubernetes-models";
  const subpath = group === "" ? version : `${group}/${version}`;
  return load(pkg, subpath, `${subpath}/index.js`);
};

let failures = 0;
let checked = 0;
for (const file of process.argv.slice(2)) {
  for (const doc of parseAllDocuments(readFileSync(file, "utf8"))) {
    if (doc.errors.length) {
      console.log(`${file}: YAML error: ${doc.errors[0].message}`);
      failures++;
      continue;
    }
    const obj = doc.toJS();
    if (!obj) continue;
    const where = `${file}: ${obj.kind}/${obj.metadata?.name}`;
    if (typeof obj.apiVersion !== "string" || typeof obj.kind !== "string") {
      console.log(`${where}: missing apiVersion or kind`);
      failures++;
      continue;
    }
    let mod;
    try {
      mod = await modelModule(obj.apiVersion);
    } catch {
      console.log(`${where}: unknown apiVersion ${obj.apiVersion}`);
      failures++;
      continue;
    }
    const Model = mod[obj.kind];
    if (!Model) {
      console.log(`${where}: unknown kind ${obj.kind} in ${obj.apiVersion}`);
      failures++;
      continue;
    }
    checked++;
    try {
      new Model(obj).validate();
      console.log(`${where}: ok`);
    } catch (e) {
      failures++;
      console.log(`${where}: INVALID ${e.message}`);
    }
  }
}
console.log(`${checked} checked, ${failures} failed`);
process.exit(failures ? 1 : 0);
