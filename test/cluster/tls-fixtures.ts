import { X509Certificate } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runChecked } from "../../lib/process/run.ts";

// A throwaway PKI made by the real openssl: a CA, a server certificate for
// 127.0.0.1 signed by it (like pve-root-ca.pem / pve-ssl.pem), an unrelated
// second CA for the negative cases, and a "public" CA with a certificate that
// names only pve1.example.org (a custom or ACME certificate, pveproxy-ssl.pem).

export interface Pki {
  dir: string;
  caFile: string;
  otherCaFile: string;
  key: string;
  cert: string;
  /** SHA-256 fingerprint of the server certificate, "AA:BB:...". */
  fingerprint: string;
  /** The "public" CA (stands in for the system's trusted CAs) and its certificate for ACME_NAME. */
  publicCa: string;
  acme: { key: string; cert: string };
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

/** Name on the "ACME" certificate: documentation data, never resolved (the test connects to 127.0.0.1). */
export const ACME_NAME = "pve1.example.org";

async function issue(dir: string, name: string, ca: string, cn: string, san: string): Promise<void> {
  await runChecked([
    "openssl",
    "req",
    ...EC,
    "-keyout",
    join(dir, `${name}.key`),
    "-out",
    join(dir, `${name}.csr`),
    "-subj",
    `/CN=${cn}`,
  ]);
  await writeFile(join(dir, `${name}.ext`), `subjectAltName=${san}\nextendedKeyUsage=serverAuth\n`);
  await runChecked([
    "openssl",
    "x509",
    "-req",
    "-in",
    join(dir, `${name}.csr`),
    "-CA",
    join(dir, `${ca}.pem`),
    "-CAkey",
    join(dir, `${ca}.key`),
    "-CAcreateserial",
    "-out",
    join(dir, `${name}.pem`),
    "-days",
    "2",
    "-extfile",
    join(dir, `${name}.ext`),
  ]);
}

export async function makePki(): Promise<Pki> {
  const dir = await mkdtemp(join(tmpdir(), `pvemigrate-pki-${process.pid}-`));
  try {
    await makeCa(dir, "ca");
    await makeCa(dir, "other");
    await makeCa(dir, "public");
    await issue(dir, "srv", "ca", "pve1", "IP:127.0.0.1,DNS:localhost");
    await issue(dir, "acme", "public", ACME_NAME, `DNS:${ACME_NAME}`);
    const cert = await readFile(join(dir, "srv.pem"), "utf8");
    const read = (name: string) => readFile(join(dir, name), "utf8");
    return {
      dir,
      caFile: join(dir, "ca.pem"),
      otherCaFile: join(dir, "other.pem"),
      key: await read("srv.key"),
      cert,
      fingerprint: new X509Certificate(cert).fingerprint256,
      publicCa: await read("public.pem"),
      acme: { key: await read("acme.key"), cert: await read("acme.pem") },
      cleanup: () => rm(dir, { recursive: true, force: true }),
    };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}
