// The signer against the worked examples in Amazon S3's API reference ("Signature Calculations
// for the Authorization Header: Transferring Payload in a Single Chunk"), which use these
// documented example credentials and a fixed date.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import { canonicalQuery, EMPTY_PAYLOAD_HASH, signV4, uriEncode } from "../../src/remote/sigv4.ts";

const credentials = {
  accessKeyId: "AKIAIOSFODNN7EXAMPLE",
  secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
};
const common = {
  host: "examplebucket.s3.amazonaws.com",
  region: "us-east-1",
  service: "s3",
  credentials,
  date: new Date("2013-05-24T00:00:00Z"),
};

test("GET object (first 10 bytes): canonical request, string to sign, signature", () => {
  const signed = signV4({
    ...common,
    method: "GET",
    path: "/test.txt",
    headers: { Range: "bytes=0-9" },
    payloadHash: EMPTY_PAYLOAD_HASH,
  });
  assert.equal(
    signed.canonicalRequest,
    [
      "GET",
      "/test.txt",
      "",
      "host:examplebucket.s3.amazonaws.com",
      "range:bytes=0-9",
      `x-amz-content-sha256:${EMPTY_PAYLOAD_HASH}`,
      "x-amz-date:20130524T000000Z",
      "",
      "host;range;x-amz-content-sha256;x-amz-date",
      EMPTY_PAYLOAD_HASH,
    ].join("\n"),
  );
  assert.equal(
    signed.stringToSign,
    [
      "AWS4-HMAC-SHA256",
      "20130524T000000Z",
      "20130524/us-east-1/s3/aws4_request",
      "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972",
    ].join("\n"),
  );
  assert.equal(
    signed.headers.authorization,
    "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request," +
      "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date," +
      "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
  );
});

test("PUT object: a key with `$`, a signed body hash and extra signed headers", () => {
  const body = "Welcome to Amazon S3.";
  const payloadHash = createHash("sha256").update(body).digest("hex");
  assert.equal(payloadHash, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  const signed = signV4({
    ...common,
    method: "PUT",
    path: "/test$file.text",
    headers: { Date: "Fri, 24 May 2013 00:00:00 GMT", "x-amz-storage-class": "REDUCED_REDUNDANCY" },
    payloadHash,
  });
  assert.match(signed.canonicalRequest, /^PUT\n\/test%24file\.text\n\n/);
  assert.equal(signed.signature, "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
  assert.match(
    signed.headers.authorization ?? "",
    /SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,/,
  );
});

test("GET bucket lifecycle: a query parameter without a value", () => {
  const signed = signV4({
    ...common,
    method: "GET",
    path: "/",
    query: [["lifecycle", ""]],
    payloadHash: EMPTY_PAYLOAD_HASH,
  });
  assert.equal(signed.signature, "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
});

test("GET bucket (list objects): query parameters sorted by name", () => {
  const signed = signV4({
    ...common,
    method: "GET",
    path: "/",
    query: [
      ["prefix", "J"],
      ["max-keys", "2"],
    ],
    payloadHash: EMPTY_PAYLOAD_HASH,
  });
  assert.match(signed.canonicalRequest, /^GET\n\/\nmax-keys=2&prefix=J\n/);
  assert.equal(signed.signature, "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
});

test("session tokens are signed; encoding keeps only unreserved characters", () => {
  const signed = signV4({
    ...common,
    credentials: { ...credentials, sessionToken: "tok/en=" },
    method: "HEAD",
    path: "/a b/ü",
    payloadHash: EMPTY_PAYLOAD_HASH,
  });
  assert.equal(signed.headers["x-amz-security-token"], "tok/en=");
  assert.match(signed.canonicalRequest, /^HEAD\n\/a%20b\/%C3%BC\n/);
  assert.match(signed.headers.authorization ?? "", /x-amz-date;x-amz-security-token,/);
  assert.equal(uriEncode("a+b=c/d~"), "a%2Bb%3Dc%2Fd~");
  assert.equal(canonicalQuery([["continuation-token", "1/2+3="]]), "continuation-token=1%2F2%2B3%3D");
});
