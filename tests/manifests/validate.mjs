// Validates Kubernetes/OpenShift manifests offline; used by tests/integration/test_deploy.py.
//
//   node tests/manifests/validate.mjs deploy/openshift/*.yaml deploy/openshift/nodeport-local/*.yaml
//
// Kubernetes kinds: the OpenAPI schema compiled into kubernetes-models (types, required fields,
// enums, formats) and, because that schema lets unknown fields through (the API server would drop
// them or refuse them), the TypeScript compiler's excess-property check against the same models'
// types. OpenShift kinds (SecurityContextConstraints, MachineConfig) have no npm models: JSON
// schemas in schemas/, written from OpenShift's API reference (sources named in each), with ajv.
// Prints one line per problem; exit 0 when every document of every file is valid.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import yaml from "js-yaml";
import Ajv from "ajv";
import ts from "typescript";

const here = path.dirname(fileURLToPath(import.meta.url));
const openshiftSchemas = {
  "security.openshift.io/v1/SecurityContextConstraints": "securitycontextconstraints.schema.json",
  "machineconfiguration.openshift.io/v1/MachineConfig": "machineconfig.schema.json",
};

// "apps/v1" + "Deployment" -> "kubernetes-models/apps/v1/Deployment"; core "v1" stays "v1".
const modelPath = (apiVersion, kind) => `kubernetes-models/${apiVersion}/${kind}`;

async function checkKubernetes(doc) {
  let module;
  try {
    module = await import(modelPath(doc.apiVersion, doc.kind));
  } catch {
    return [`no Kubernetes model for ${doc.apiVersion} ${doc.kind}`];
  }
  try {
    new module[doc.kind](doc).validate();
    return [];
  } catch (error) {
    return [String(error.message || error)];
  }
}

function checkOpenShift(ajv, doc, schemaFile) {
  const validate = ajv.getSchema(schemaFile);
  if (validate(doc)) return [];
  return validate.errors.map((e) => `${e.instancePath || "/"} ${e.message}` +
    (e.params && e.params.additionalProperty ? `: '${e.params.additionalProperty}'` : ""));
}

// Unknown fields: each Kubernetes document becomes `const doc: I<Kind> = <its JSON>;` in an
// in-memory TypeScript file; the compiler reports every property the type does not have.
function unknownFields(entries) {
  if (entries.length === 0) return new Map();
  const files = new Map();
  entries.forEach(({ doc }, index) => {
    const name = path.join(here, `__doc${index}.ts`);
    files.set(name, `import type { I${doc.kind} } from "${modelPath(doc.apiVersion, doc.kind)}";\n` +
      `export const doc: I${doc.kind} = ${JSON.stringify(doc, null, 2)};\n`);
  });
  const options = { noEmit: true, strict: true, skipLibCheck: true, target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext };
  const host = ts.createCompilerHost(options);
  const readFile = host.readFile.bind(host);
  const getSourceFile = host.getSourceFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => files.has(name) || fileExists(name);
  host.readFile = (name) => files.get(name) ?? readFile(name);
  host.getSourceFile = (name, target, ...rest) => files.has(name)
    ? ts.createSourceFile(name, files.get(name), target) : getSourceFile(name, target, ...rest);
  const program = ts.createProgram([...files.keys()], options, host);
  const problems = new Map();
  for (const diagnostic of ts.getPreEmitDiagnostics(program)) {
    const index = diagnostic.file ? [...files.keys()].indexOf(diagnostic.file.fileName) : -1;
    const text = ts.flattenDiagnosticMessageText(diagnostic.messageText, " ");
    const key = index >= 0 ? index : "setup";
    problems.set(key, [...(problems.get(key) || []), text]);
  }
  return problems;
}

async function main(files) {
  if (files.length === 0) {
    console.error("usage: node validate.mjs MANIFEST.yaml...");
    return 2;
  }
  const ajv = new Ajv({ allErrors: true, strict: true });
  for (const file of Object.values(openshiftSchemas)) {
    ajv.addSchema(JSON.parse(fs.readFileSync(path.join(here, "schemas", file), "utf8")), file);
  }
  const kubernetes = [];
  let problems = 0;
  let documents = 0;
  const report = (where, lines) => {
    for (const line of lines) console.log(`${where}: ${line}`);
    problems += lines.length;
  };
  for (const file of files) {
    const docs = yaml.loadAll(fs.readFileSync(file, "utf8")).filter((d) => d);
    for (const [n, doc] of docs.entries()) {
      documents++;
      const where = `${file}: document ${n + 1} (${doc.kind} ${doc.metadata?.name ?? "?"})`;
      const openshift = openshiftSchemas[`${doc.apiVersion}/${doc.kind}`];
      if (openshift) {
        report(where, checkOpenShift(ajv, doc, openshift));
      } else {
        report(where, await checkKubernetes(doc));
        kubernetes.push({ where, doc });
      }
    }
  }
  for (const [key, lines] of unknownFields(kubernetes)) {
    report(key === "setup" ? "typescript" : kubernetes[key].where, lines);
  }
  console.log(`${documents} documents in ${files.length} files, ${problems} problems`);
  return problems === 0 && documents > 0 ? 0 : 1;
}

process.exitCode = await main(process.argv.slice(2));
