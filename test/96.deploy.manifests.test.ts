// deploy/: every Kubernetes manifest, rendered as kustomize would (resources, labels, images, patches),
// validates against the Kubernetes JSON schemas (kubernetes-models, bundled: no network), and the pieces
// agree with each other and with the server: probes on /ready and /health, a termination grace that covers
// preStop + the shutdown grace, limits the server's own config parser accepts, selectors that match.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { CONFIG_FIELDS, parseServerConfig } from '../src/server/limits.js';
import { createServerMetrics } from '../src/server/metrics.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const K8S = join(ROOT, 'deploy/k8s');

type Obj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** The kubernetes-models class for an apiVersion/kind (core group: "v1"). */
async function modelFor(apiVersion: string, kind: string): Promise<new (o: Obj) => { validate(): void }> {
  const mod = apiVersion === 'monitoring.coreos.com/v1'
    ? `@kubernetes-models/prometheus-operator/${apiVersion}/${kind}`
    : `kubernetes-models/${apiVersion}/${kind}`;
  const m = (await import(mod)) as Record<string, new (o: Obj) => { validate(): void }>;
  const cls = m[kind];
  assert.ok(cls, `no schema for ${apiVersion} ${kind}`);
  return cls;
}

async function validate(o: Obj, where: string): Promise<void> {
  const Model = await modelFor(o.apiVersion, o.kind);
  try {
    new Model(o).validate();
  } catch (e) {
    assert.fail(`${where}: ${o.kind}/${o.metadata?.name} does not validate: ${(e as Error).message}`);
  }
}

function readYaml(path: string): Obj[] {
  return parseAllDocuments(readFileSync(path, 'utf8')).map((d) => {
    assert.equal(d.errors.length, 0, `${path}: ${d.errors.join('; ')}`);
    return d.toJS() as Obj;
  }).filter((o) => o !== null);
}

/** RFC 6902 add/remove/replace on plain paths: the operations the overlays use. */
function applyJsonPatch(target: Obj, ops: Obj[]): void {
  for (const op of ops) {
    const parts = String(op.path).split('/').slice(1);
    const last = parts.pop()!;
    let node: Obj = target;
    for (const p of parts) {
      assert.ok(node[p] !== undefined, `patch path ${op.path} does not exist`);
      node = node[p];
    }
    if (op.op === 'remove') {
      assert.ok(node[last] !== undefined, `patch removes missing ${op.path}`);
      if (Array.isArray(node)) node.splice(Number(last), 1); else delete node[last];
    } else if (op.op === 'replace') {
      assert.ok(node[last] !== undefined, `patch replaces missing ${op.path}`);
      node[last] = op.value;
    } else if (op.op === 'add') {
      if (Array.isArray(node)) node.splice(last === '-' ? node.length : Number(last), 0, op.value); else node[last] = op.value;
    } else {
      assert.fail(`unsupported patch op ${op.op}`);
    }
  }
}

function addLabels(o: Obj, labels: Record<string, string>, selectors: boolean): void {
  o.metadata.labels = { ...o.metadata.labels, ...labels };
  if (!selectors) return;
  if (o.kind === 'Deployment') {
    o.spec.selector.matchLabels = { ...o.spec.selector.matchLabels, ...labels };
    o.spec.template.metadata.labels = { ...o.spec.template.metadata.labels, ...labels };
  }
  if (o.kind === 'Service') o.spec.selector = { ...o.spec.selector, ...labels };
  if (o.kind === 'PodDisruptionBudget' || o.kind === 'ServiceMonitor') o.spec.selector.matchLabels = { ...o.spec.selector.matchLabels, ...labels };
}

/** A kustomization rendered the way `kustomize build` would, for the features these manifests use. */
function render(dir: string): Obj[] {
  const k = readYaml(join(dir, 'kustomization.yaml'))[0];
  let out: Obj[] = [];
  for (const r of k.resources ?? []) {
    const p = resolve(dir, r);
    assert.ok(existsSync(p), `${dir}: resource ${r} does not exist`);
    out.push(...(statSync(p).isDirectory() ? render(p) : readYaml(p)));
  }
  for (const l of k.labels ?? []) for (const o of out) addLabels(o, l.pairs, l.includeSelectors === true);
  for (const img of k.images ?? []) {
    for (const o of out.filter((x) => x.kind === 'Deployment')) {
      for (const c of [...(o.spec.template.spec.containers ?? []), ...(o.spec.template.spec.initContainers ?? [])]) {
        if (c.image === img.name) c.image = `${img.newName ?? img.name}:${img.newTag}`;
      }
    }
  }
  for (const p of k.patches ?? []) {
    const targets = out.filter((o) => o.kind === p.target.kind && o.metadata.name === p.target.name);
    assert.equal(targets.length, 1, `${dir}: patch target ${p.target.kind}/${p.target.name} matches ${targets.length} objects`);
    if (p.patch) applyJsonPatch(targets[0], readYamlText(p.patch));
    else out = out.map((o) => (o === targets[0] ? readYaml(join(dir, p.path))[0] : o)); // these patches restate the whole object
  }
  return out;
}

function readYamlText(text: string): Obj[] {
  return parseAllDocuments(text)[0].toJS() as Obj[];
}

const base = render(join(K8S, 'base'));
const one = (kind: string, objs = base): Obj => {
  const found = objs.filter((o) => o.kind === kind);
  assert.equal(found.length, 1, `one ${kind}`);
  return found[0];
};

describe('deploy/k8s manifests', () => {
  it('every object of the base, the overlay and the component validates against the Kubernetes schemas', async () => {
    assert.deepEqual(base.map((o) => o.kind).sort(), ['ConfigMap', 'Deployment', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'Service', 'ServiceMonitor']);
    for (const o of base) await validate(o, 'base');
    const overlay = render(join(K8S, 'overlays/mounted-models'));
    for (const o of overlay) await validate(o, 'overlays/mounted-models');
    const d = one('Deployment', overlay);
    assert.equal(d.spec.template.spec.initContainers, undefined, 'mounted models: nothing pulled at start');
    assert.equal(d.spec.template.spec.volumes.find((v: Obj) => v.name === 'models').persistentVolumeClaim.claimName, one('PersistentVolumeClaim', overlay).metadata.name);
    const component = readYaml(join(K8S, 'components/queue-autoscaling/kustomization.yaml'))[0];
    for (const p of component.patches) for (const o of readYaml(join(K8S, 'components/queue-autoscaling', p.path))) await validate(o, 'components/queue-autoscaling');
  });

  it('the validator rejects a broken manifest (so a pass means something)', async () => {
    const broken = structuredClone(one('Deployment'));
    broken.spec.replicas = 'two';
    delete broken.spec.template.spec.containers[0].readinessProbe.httpGet.port;
    const Model = await modelFor('apps/v1', 'Deployment');
    assert.throws(() => new Model(broken).validate(), /replicas must be integer|must have required property 'port'/);
  });

  it('probes: readiness /ready, liveness /health, on the container port the Service targets', () => {
    const c = one('Deployment').spec.template.spec.containers[0];
    assert.equal(c.readinessProbe.httpGet.path, '/ready');
    assert.equal(c.livenessProbe.httpGet.path, '/health');
    const port = c.ports.find((p: Obj) => p.name === c.readinessProbe.httpGet.port);
    assert.ok(port, 'readiness probe port is a named container port');
    const svc = one('Service');
    assert.equal(svc.spec.ports[0].targetPort, port.name);
    const cm = one('ConfigMap').data;
    assert.equal(Number(cm.CROSSGATE_PORT), port.containerPort, 'the server listens where the probes look');
    assert.equal(cm.CROSSGATE_HOST, '0.0.0.0', 'reachable from the kubelet and the Service, not loopback only');
    assert.equal(one('ServiceMonitor').spec.endpoints[0].port, svc.spec.ports[0].name);
  });

  it('terminationGracePeriodSeconds covers preStop + the server\'s shutdown grace', () => {
    const spec = one('Deployment').spec.template.spec;
    const cmd = spec.containers[0].lifecycle.preStop.exec.command;
    assert.deepEqual(cmd.slice(0, 1), ['sleep']);
    const preStopS = Number(cmd[1]);
    const graceMs = parseServerConfig({ env: one('ConfigMap').data }).config.shutdownGraceMs;
    assert.ok(spec.terminationGracePeriodSeconds * 1000 >= preStopS * 1000 + graceMs + 2000,
      `terminationGracePeriodSeconds ${spec.terminationGracePeriodSeconds} s < preStop ${preStopS} s + shutdown grace ${graceMs} ms + 2 s to close`);
  });

  it('the ConfigMap holds every limit of the README table, and the server\'s own parser accepts it', () => {
    const data = one('ConfigMap').data as Record<string, string>;
    for (const f of CONFIG_FIELDS) {
      if (f.secret) {
        assert.equal(data[f.env], undefined, `${f.env} is a secret: not in a ConfigMap`);
        continue;
      }
      assert.ok(f.env in data, `ConfigMap lacks ${f.env}`);
    }
    const known = new Set([...CONFIG_FIELDS.map((f) => f.env), 'CROSSGATE_MODEL_REPO', 'CROSSGATE_RERANKERS']);
    for (const k of Object.keys(data)) assert.ok(known.has(k), `ConfigMap key ${k} is nothing the server reads`);
    const { config, sources } = parseServerConfig({ env: data });
    for (const f of CONFIG_FIELDS) if (!f.secret) assert.equal(sources[f.key], 'env', f.env);
    assert.equal(config.host, '0.0.0.0');
    assert.ok(data.CROSSGATE_RERANKERS.endsWith('=' + data.CROSSGATE_MODEL_REPO), 'the server runs the model the init container pulls');
  });

  it('selectors of the Service, PDB and ServiceMonitor match the pods; the HPAs scale the Deployment', () => {
    const d = one('Deployment');
    const podLabels = d.spec.template.metadata.labels;
    const matches = (sel: Record<string, string>): boolean => Object.entries(sel).every(([k, v]) => podLabels[k] === v);
    assert.ok(matches(d.spec.selector.matchLabels));
    assert.ok(matches(one('Service').spec.selector));
    assert.ok(matches(one('PodDisruptionBudget').spec.selector.matchLabels));
    const svcLabels = one('Service').metadata.labels;
    assert.ok(Object.entries(one('ServiceMonitor').spec.selector.matchLabels).every(([k, v]) => svcLabels[k] === v), 'ServiceMonitor selects the Service');
    const hpa = one('HorizontalPodAutoscaler');
    assert.equal(hpa.spec.scaleTargetRef.name, d.metadata.name);
    assert.ok(hpa.spec.minReplicas >= 2, 'two replicas at least, so the PDB can let one go');
    const queue = readYaml(join(K8S, 'components/queue-autoscaling/hpa-queue.yaml'))[0];
    const metric = queue.spec.metrics.find((m: Obj) => m.type === 'Pods').pods.metric.name;
    assert.equal(metric, createServerMetrics().queueTokens.name, 'the queue HPA reads a metric the server exports');
    assert.match(readFileSync(join(K8S, 'components/queue-autoscaling/prometheus-adapter-values.yaml'), 'utf8'), new RegExp(`as: "${metric}"`));
  });

  it('non-root, read-only root filesystem, resource requests and limits on every container', () => {
    const spec = one('Deployment').spec.template.spec;
    assert.equal(spec.securityContext.runAsNonRoot, true);
    for (const c of [...spec.containers, ...spec.initContainers]) {
      assert.equal(c.securityContext.readOnlyRootFilesystem, true, c.name);
      assert.equal(c.securityContext.allowPrivilegeEscalation, false, c.name);
      assert.ok(c.resources.requests.cpu && c.resources.requests.memory && c.resources.limits.memory, c.name);
      assert.ok(c.image.startsWith('crossgate:'), `${c.name}: image set by kustomize images`);
    }
  });
});

describe('deploy/Dockerfile', () => {
  const text = readFileSync(join(ROOT, 'deploy/Dockerfile'), 'utf8');
  it('builds the addon in one stage and runs as a numeric non-root user in a slim runtime stage', () => {
    const stages = [...text.matchAll(/^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/gm)];
    assert.equal(stages.length, 2);
    assert.match(stages[0][0], /AS build/);
    assert.match(stages[1][1], /slim/);
    const runtime = text.slice(stages[1].index);
    assert.match(runtime, /^USER 10001:10001$/m);
    assert.equal(one('Deployment').spec.template.spec.securityContext.runAsUser, 10001, 'the pod runs as the image user');
    assert.match(runtime, /COPY --from=build \/src\/build\/Release\/crossgate_native\.node/);
  });
  it('copies only paths that exist, and its entry point is the compiled CLI', () => {
    for (const m of text.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
      for (const p of m[1].split(/\s+/)) assert.ok(existsSync(join(ROOT, p)), `COPY ${p}: no such path`);
    }
    assert.match(text, /"node", "\/app\/dist\/src\/cli\/main\.js"/);
    assert.ok(existsSync(join(ROOT, 'dist/src/cli/main.js')));
    assert.ok(existsSync(join(dirname(join(ROOT, 'deploy/Dockerfile')), 'Dockerfile.dockerignore')));
  });
});
