// Testcontainers for Node against dind (tests/integration/test_testcontainers_node.py).
// A GenericContainer from a pre-loaded image (no pull: the default pull policy
// only inspects a present image), on a network of its own with an alias, a
// file copied in before start and another after, execs, the log stream, an
// archive read back, the mapped port fetched, then stop (which removes it).
// Prints one JSON document on stdout; exits non-zero on any failure.
//   node tc.mjs IMAGE
import { GenericContainer, Network, Wait } from "testcontainers";

const image = process.argv[2] || "busybox:local";
const result = { image, steps: [] };
const step = (name) => result.steps.push(name);

function check(cond, what) {
  if (!cond) throw new Error(`check failed: ${what}`);
}

// The first regular file of a tar stream (GET archive's answer): its name and
// text. Extended headers (pax `x`/`g`, GNU `L` long names) are applied/skipped.
async function firstTarEntry(stream) {
  const chunks = [];
  for await (const c of stream) chunks.push(Buffer.from(c));
  const tar = Buffer.concat(chunks);
  let off = 0;
  let longName;
  while (off + 512 <= tar.length && tar[off] !== 0) {
    const at = off;
    const field = (o, len) => tar.subarray(at + o, at + o + len).toString("utf8").replace(/\0.*$/s, "");
    const size = parseInt(field(124, 12).trim() || "0", 8);
    const type = field(156, 1) || "0";
    const body = tar.subarray(off + 512, off + 512 + size);
    off += 512 + Math.ceil(size / 512) * 512;
    if (type === "x") {
      const m = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(body.toString("utf8"));
      if (m) longName = m[1];
    } else if (type === "L") {
      longName = body.toString("utf8").replace(/\0.*$/s, "");
    } else if (type === "0") {
      const prefix = field(345, 155);
      return { name: longName ?? (prefix ? `${prefix}/${field(0, 100)}` : field(0, 100)), content: body.toString() };
    } else if (type !== "g") {
      longName = undefined;
    }
  }
  throw new Error(`no regular file in the archive (${tar.length} bytes)`);
}

// Reads the log stream until every one of `until` appeared (or timeout ms
// pass): stdout and stderr lines come through separate pipes, in either order.
function readLogs(stream, until, timeout) {
  return new Promise((resolve) => {
    let text = "";
    const done = () => {
      clearTimeout(timer);
      stream.removeAllListeners("data");
      stream.destroy();
      resolve(text);
    };
    const timer = setTimeout(done, timeout);
    stream.on("data", (line) => {
      text += line;
      if (until.every((s) => text.includes(s))) done();
    });
    stream.on("end", done);
  });
}

let network;
let container;
let exitCode = 0;
try {
  network = await new Network().start();
  step("network");
  result.network = network.getName();

  container = await new GenericContainer(image)
    .withNetwork(network)
    .withNetworkAliases("tcweb")
    .withExposedPorts(80)
    .withLabels({ "dind.test": "testcontainers-node" })
    .withCopyContentToContainer([{ content: "served through the mapped port\n", target: "/www/page.txt" }])
    .withCommand(["sh", "-c", "echo boot-stdout; echo boot-stderr >&2; echo ready; exec httpd -f -p 80 -h /www"])
    .withWaitStrategy(Wait.forAll([Wait.forListeningPorts(), Wait.forLogMessage("ready")]))
    .withStartupTimeout(60000)
    .start();
  step("started");
  result.id = container.getId();
  result.name = container.getName();
  result.host = container.getHost();
  result.port = container.getMappedPort(80);
  result.networkNames = container.getNetworkNames();
  result.ip = container.getIpAddress(network.getName());

  // A file copied into the running container, read back through exec.
  await container.copyContentToContainer([{ content: "copied by testcontainers\n", target: "/tmp/in.txt" }]);
  step("copied");
  const cat = await container.exec(["cat", "/tmp/in.txt"]);
  result.exec = { exitCode: cat.exitCode, stdout: cat.stdout, stderr: cat.stderr };
  check(cat.exitCode === 0 && cat.stdout === "copied by testcontainers\n", `exec cat: ${JSON.stringify(cat)}`);

  // A failing exec: its exit code and its stderr apart from stdout.
  const fail = await container.exec(["sh", "-c", "echo to-out; echo to-err >&2; exit 3"]);
  result.execFail = { exitCode: fail.exitCode, stdout: fail.stdout, stderr: fail.stderr };
  check(fail.exitCode === 3 && fail.stdout === "to-out\n" && fail.stderr === "to-err\n",
    `failing exec: ${JSON.stringify(fail)}`);

  // exec with a working directory, an environment and a user.
  const env = await container.exec(["sh", "-c", "echo $GREETING $(pwd) $(id -u)"],
    { env: { GREETING: "hello" }, workingDir: "/tmp", user: "app" });
  result.execEnv = { exitCode: env.exitCode, stdout: env.stdout };
  check(env.exitCode === 0 && env.stdout === "hello /tmp 1000\n", `exec env/workdir/user: ${JSON.stringify(env)}`);

  // The network alias resolves inside the container.
  const alias = await container.exec(["wget", "-q", "-O", "-", "http://tcweb/page.txt"]);
  result.aliasFetch = { exitCode: alias.exitCode, stdout: alias.stdout, stderr: alias.stderr };
  check(alias.exitCode === 0 && alias.stdout === "served through the mapped port\n",
    `wget through the alias: ${JSON.stringify(alias)}`);

  // The log stream (follow) has both streams' lines.
  result.logs = await readLogs(await container.logs(), ["boot-stdout\n", "boot-stderr\n", "ready\n"], 10000);
  check(result.logs.includes("boot-stdout") && result.logs.includes("boot-stderr") && result.logs.includes("ready"),
    `logs: ${JSON.stringify(result.logs)}`);

  // The archive of a file comes back (GET /containers/{id}/archive).
  result.archive = await firstTarEntry(await container.copyArchiveFromContainer("/tmp/in.txt"));
  check(result.archive.name === "in.txt" && result.archive.content === "copied by testcontainers\n",
    `archive: ${JSON.stringify(result.archive)}`);

  // The mapped port from the host, at the host Testcontainers resolved.
  const res = await fetch(`http://${result.host}:${result.port}/page.txt`, { signal: AbortSignal.timeout(10000) });
  result.http = { status: res.status, body: await res.text() };
  check(res.status === 200 && result.http.body === "served through the mapped port\n",
    `http: ${JSON.stringify(result.http)}`);

  const stopped = await container.stop();
  container = undefined;
  step("stopped");
  result.stoppedId = stopped.getId();
  await network.stop();
  network = undefined;
  step("network-removed");
  result.ok = true;
} catch (err) {
  result.ok = false;
  result.error = String(err && err.stack ? err.stack : err);
  exitCode = 1;
} finally {
  // Ryuk is disabled: what a failure left behind is removed here.
  if (container) await container.stop().catch((e) => { result.cleanupError = String(e); });
  if (network) await network.stop().catch((e) => { result.cleanupError = String(e); });
}
process.stdout.write(JSON.stringify(result) + "\n");
process.exit(exitCode);
