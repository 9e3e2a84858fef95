import { ellipsoidInBox, masksFromModel, packBits, unpackFrame } from '../../../src/report/seg/masks';
import { voxelToLPS } from '../../../src/dicom/volume';
import { smallVolume } from './small-volume';

describe('SEG masks', () => {
  test('bits are packed LSB first, frames back to back without padding', () => {
    // 3x3 frames (9 bits each) so the second frame starts inside a byte.
    const f1 = Uint8Array.from([1, 0, 0, 0, 0, 0, 0, 0, 1]);
    const f2 = Uint8Array.from([0, 1, 1, 0, 0, 0, 0, 0, 0]);
    const packed = packBits([f1, f2], 9);
    expect(packed.length).toBe(4); // 18 bits -> 3 bytes, padded to even
    expect(packed[0]).toBe(0b00000001);
    expect(packed[1]).toBe(0b00000001 | (1 << 2) | (1 << 3)); // bit 8 (f1 last), bits 10 and 11 (f2 pixels 1, 2)
    expect(unpackFrame(packed, 0, 9)).toEqual(f1);
    expect(unpackFrame(packed, 1, 9)).toEqual(f2);
  });

  test('the ellipsoid lies inside its box and is largest at the centre slice', () => {
    const { volume } = smallVolume();
    const [cols] = volume.dims;
    const a = voxelToLPS(volume, 10, 8, 2.5);
    const b = voxelToLPS(volume, 24, 20, 7.5);
    const masks = ellipsoidInBox(volume, [a[0], a[1], a[2], b[0], b[1], b[2]]);
    expect(masks.map((m) => m.sliceIndex)).toEqual([3, 4, 5, 6, 7]);
    const counts = masks.map((m) => m.data.reduce((s, v) => s + v, 0));
    expect(Math.max(...counts)).toBe(counts[2]);
    for (const m of masks) {
      m.data.forEach((v, p) => {
        if (!v) return;
        const i = p % cols;
        const j = Math.floor(p / cols);
        expect(i).toBeGreaterThanOrEqual(10);
        expect(i).toBeLessThanOrEqual(24);
        expect(j).toBeGreaterThanOrEqual(8);
        expect(j).toBeLessThanOrEqual(20);
      });
    }
  });

  test('a box smaller than a voxel still gives one voxel', () => {
    const { volume } = smallVolume();
    const c = voxelToLPS(volume, 5, 5, 5);
    const masks = ellipsoidInBox(volume, [c[0] - 0.01, c[1] - 0.01, c[2] - 0.01, c[0] + 0.01, c[1] + 0.01, c[2] + 0.01]);
    expect(masks).toHaveLength(1);
    expect(masks[0].data.reduce((s, v) => s + v, 0)).toBe(1);
  });

  test('model mask crops are placed at their offset, empty slices dropped, bad crops refused', () => {
    const { volume } = smallVolume();
    const [cols] = volume.dims;
    const masks = masksFromModel(volume, 1, {
      frames: [
        { sliceIndex: 4, sopInstanceUID: volume.slices[4].sopInstanceUID, frameNumber: 1, x0: 3, y0: 2, width: 2, height: 1, data: Uint8Array.from([1, 1]) },
        { sliceIndex: 2, sopInstanceUID: volume.slices[2].sopInstanceUID, frameNumber: 1, x0: 0, y0: 0, width: 1, height: 1, data: Uint8Array.from([0]) },
      ],
    });
    expect(masks).toHaveLength(1);
    expect(masks[0].sliceIndex).toBe(4);
    expect(masks[0].data[2 * cols + 3]).toBe(1);
    expect(masks[0].data[2 * cols + 4]).toBe(1);
    expect(masks[0].data.reduce((s, v) => s + v, 0)).toBe(2);
    expect(() => masksFromModel(volume, 1, { frames: [{ sliceIndex: 99, sopInstanceUID: '', frameNumber: 1, x0: 0, y0: 0, width: 1, height: 1, data: Uint8Array.from([1]) }] })).toThrow(/outside/);
    expect(() => masksFromModel(volume, 1, { frames: [{ sliceIndex: 1, sopInstanceUID: '', frameNumber: 1, x0: 0, y0: 0, width: 2, height: 2, data: Uint8Array.from([1]) }] })).toThrow(/values for a 2x2/);
  });
});
