/** Pieces of the viewer that need no browser: the URL hash, JPEG encoding, packed frames. */
import { describe, expect, test } from "bun:test";
import { packBinary } from "../instance/viewer-socket.ts";
import { encodeJpeg, jpegAvailable } from "../render/jpeg.ts";
import { presetPoints, presetTf, sampleTf } from "../render/presets.ts";
import { orbitCamera, projectPoint, rayThrough } from "../render/view.ts";
import { decodeHash, encodeHash } from "./viewer/hash.ts";

describe("viewer hash", () => {
  test("round trip of view, render settings and probe", () => {
    const state = {
      view: { azimuth: -35.1234, elevation: 18, distance: 1.75, roll: 0, fov: 30, projection: "ortho" as const, target: [1, 2, 3] as [number, number, number] },
      render: {
        mode: "mip",
        shading: "S2",
        tf: { points: [[0, 0, 0, 0, 0], [0.5, 1, 0.5, 0.25, 0.1], [1, 1, 1, 1, 0.6]] as [number, number, number, number, number][] },
        window: [-1024, 2986] as [number, number],
        clip: { min: [0, 0, 0] as [number, number, number], max: [10, 20, 30] as [number, number, number] },
        pointFilter: null,
      },
      probe: [54, 128, 7] as [number, number, number],
    };
    const back = decodeHash(encodeHash(state));
    expect(back.view).toEqual({ ...state.view, azimuth: -35.123 });
    expect(back.render).toEqual(state.render);
    expect(back.probe).toEqual(state.probe);
  });

  test("garbage in the hash is ignored, never thrown", () => {
    expect(decodeHash("#v=a,b,c&mode=evil&tf=<script>&win=5,1&probe=-1,2,3&clip=1,2")).toEqual({});
    expect(decodeHash("")).toEqual({});
  });
});

describe.skipIf(!jpegAvailable())("jpeg", () => {
  test("encodes RGBA into a baseline JPEG of the same size", () => {
    const w = 320;
    const h = 200;
    const rgba = new Uint8Array(w * h * 4).map((_, i) => (i % 4 === 3 ? 255 : (i * 7) % 256));
    const jpg = encodeJpeg(rgba, w, h, 80);
    expect([jpg[0], jpg[1]]).toEqual([0xff, 0xd8]);
    expect([jpg[jpg.length - 2], jpg[jpg.length - 1]]).toEqual([0xff, 0xd9]);
    // SOF0: height and width
    const sof = jpg.findIndex((b, i) => b === 0xff && jpg[i + 1] === 0xc0);
    const dv = new DataView(jpg.buffer, jpg.byteOffset);
    expect([dv.getUint16(sof + 5), dv.getUint16(sof + 7)]).toEqual([h, w]);
    expect(() => encodeJpeg(rgba, w, h + 1)).toThrow(/needed/);
  });
});

describe("viewer geometry and presets", () => {
  test("a point projects to where its ray comes from", () => {
    const cam = orbitCamera({ azimuth: 30, elevation: 20, distance: 2, roll: 10, fov: 30, projection: "perspective" }, [100, 80, 60]);
    for (const [x, y] of [[0.5, 0.5], [0.1, 0.9], [0.8, 0.3]] as const) {
      const ray = rayThrough(cam, x, y, 1.6);
      const p = ray.origin.map((o, k) => o + ray.dir[k]! * 50) as [number, number, number];
      const q = projectPoint(cam, p, 1.6)!;
      expect(q.x).toBeCloseTo(x, 6);
      expect(q.y).toBeCloseTo(y, 6);
    }
  });

  test("a CT preset's points over the window give the table the renderer gets", () => {
    const w: [number, number] = [-1024, 2986];
    const a = presetTf("ct-bone", w);
    const b = sampleTf(presetPoints("ct-bone", w));
    for (let i = 0; i < a.length; i++) expect(Math.abs(a[i]! - b[i]!)).toBeLessThan(2e-3);
  });

  test("packed binary messages: u32 header length, JSON header, payload", () => {
    const m = packBinary({ kind: "frame", seq: 3 }, new Uint8Array([9, 8, 7]));
    const n = new DataView(m.buffer).getUint32(0, true);
    expect(JSON.parse(new TextDecoder().decode(m.subarray(4, 4 + n)))).toEqual({ kind: "frame", seq: 3 });
    expect([...m.subarray(4 + n)]).toEqual([9, 8, 7]);
  });
});
