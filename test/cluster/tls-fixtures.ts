import { X509Certificate } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runChecked } from "../../lib/process/run.ts";

// A throwaway PKI made by the real openssl: a CA, a server certificate for
// 127.0.0.1 signed by it (like pve-root-ca.pem / pve-ssl.pem), and an
// unrelated second CA for the negative cases.

export interface Pki {
  dir: string;
  caFile: string;
  otherCaFile: string;
  key: string;
  cert: string;
  /** SHA-256 fingerprint of the server certificate, "AA:BB:...". */
  fingerprint: string;
  cleanup(): Promise<void>;
}

const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

async function makeCa(dir: string, name: string): Promise<void> {
  await runChecked([
    "openssl",
    "req",
    "-x509",
    ...EC,
    "-keyout",
    join(dir, `${name}.key`),
    "-out",
    join(dir, `${name}.pem`),
    "-days",
    "2",
    "-subj",
    `/CN=${name} test CA`,
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
}

export async function makePki(): Promise<Pki> {
  const dir = await mkdtemp(join(tmpdir(), `pvemigrate-pki-${process.pid}-`));
  try {
    await makeCa(dir, "ca");
    await makeCa(dir, "other");
    await runChecked([
      "openssl",
      "req",
      ...EC,
      "-keyout",
      join(dir, "srv.key"),
      "-out",
      join(dir, "srv.csr"),
      "-subj",
      "/CN=pve1",
    ]);
    await writeFile(
      join(dir, "ext"),
      "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
    );
    await runChecked([
      "openssl",
      "x509",
      "-req",
      "-in",
      join(dir, "srv.csr"),
      "-CA",
      join(dir, "ca.pem"),
      "-CAkey",
      join(dir, "ca.key"),
      "-CAcreateserial",
      "-out",
      join(dir, "srv.pem"),
      "-days",
      "2",
      "-extfile",
      join(dir, "ext"),
    ]);
    const cert = await readFile(join(dir, "srv.pem"), "utf8");
    return {
      dir,
      caFile: join(dir, "ca.pem"),
      otherCaFile: join(dir, "other.pem"),
      key: await readFile(join(dir, "srv.key"), "utf8"),
      cert,
      fingerprint: new X509Certificate(cert).fingerprint256,
      cleanup: () => rm(dir, { recursive: true, force: true }),
    };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}
