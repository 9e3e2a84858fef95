/**
 * Shapes of the phantom as approximate signed distance functions (mm, negative inside).
 *
 * Coordinates are the phantom frame: x = LPS x (towards the patient's left), y = LPS y (towards the back),
 * s = millimetres inferior of the lung apex. A shape is evaluated one axial slice at a time (`at(s)`), and only
 * inside its bounding box on that slice, which is what keeps a 512x512x300 study fast.
 */

export interface SliceShape {
  /** Bounding box on this slice (mm); outside it the shape is certainly absent. */
  x0: number;
  x1: number;
  y0: number;
  y1: number;
  sdf(x: number, y: number): number;
}

export interface Shape3 {
  /** Extent along s; at(s) returns null outside it. */
  s0: number;
  s1: number;
  at(s: number): SliceShape | null;
  /** Distance at a 3D point (used to place lesions and test membership). */
  sdf3(x: number, y: number, s: number): number;
}

/** A smooth random radius modulation over directions: irregular, lobulated or spiculated outlines. */
export interface Perturbation {
  amps: number[];
  freqs: number[];
  phases: number[];
  /** Unit directions the cosine waves run along. */
  dirs: [number, number, number][];
}

export function perturbationMax(p?: Perturbation): number {
  return p ? p.amps.reduce((a, b) => a + Math.abs(b), 0) : 0;
}

/** Ellipsoid with radii (a, b, c), rotated by `yaw` about s then `tilt` about x, optionally perturbed. */
export class Blob implements Shape3 {
  readonly s0: number;
  readonly s1: number;
  private readonly r: number[]; // rotation matrix rows, local = R (p - c)
  private readonly reach: [number, number, number];

  constructor(
    readonly cx: number,
    readonly cy: number,
    readonly cs: number,
    readonly a: number,
    readonly b: number,
    readonly c: number,
    readonly yaw = 0,
    readonly tilt = 0,
    readonly pert?: Perturbation,
  ) {
    const cyw = Math.cos(yaw), syw = Math.sin(yaw), ct = Math.cos(tilt), st = Math.sin(tilt);
    // World->local: first undo yaw (about s), then undo tilt (about local x).
    // Rz(-yaw): [cyw, syw, 0; -syw, cyw, 0; 0, 0, 1]; Rx(-tilt): [1,0,0; 0, ct, st; 0, -st, ct]
    this.r = [cyw, syw, 0, -syw * ct, cyw * ct, st, syw * st, -cyw * st, ct];
    const grow = 1 + perturbationMax(pert);
    const ax = [a * grow, b * grow, c * grow];
    // Bounding half-extent of a rotated ellipsoid: sqrt(sum_k (R_kd * axis_k)^2) per world axis d.
    const R = this.r;
    const reach = [0, 1, 2].map((d) => Math.sqrt((R[d] * ax[0]) ** 2 + (R[3 + d] * ax[1]) ** 2 + (R[6 + d] * ax[2]) ** 2));
    this.reach = reach as [number, number, number];
    this.s0 = cs - reach[2];
    this.s1 = cs + reach[2];
  }

  sdf3(x: number, y: number, s: number): number {
    const dx = x - this.cx, dy = y - this.cy, ds = s - this.cs;
    const R = this.r;
    const lx = R[0] * dx + R[1] * dy + R[2] * ds;
    const ly = R[3] * dx + R[4] * dy + R[5] * ds;
    const lz = R[6] * dx + R[7] * dy + R[8] * ds;
    const a = this.a, b = this.b, c = this.c;
    const qx = lx / a, qy = ly / b, qz = lz / c;
    const q = Math.sqrt(qx * qx + qy * qy + qz * qz);
    if (q < 1e-6) return -Math.min(a, b, c);
    let rad = 1;
    const p = this.pert;
    if (p) {
      const len = Math.sqrt(lx * lx + ly * ly + lz * lz);
      const ux = lx / len, uy = ly / len, uz = lz / len;
      for (let m = 0; m < p.amps.length; m++) {
        const d = p.dirs[m];
        rad += p.amps[m] * Math.cos(p.freqs[m] * (ux * d[0] + uy * d[1] + uz * d[2]) + p.phases[m]);
      }
    }
    const gx = qx / a, gy = qy / b, gz = qz / c;
    const g = Math.sqrt(gx * gx + gy * gy + gz * gz) / q;
    return (q - rad) / g;
  }

  at(s: number): SliceShape | null {
    if (s < this.s0 || s > this.s1) return null;
    const [rx, ry] = this.reach;
    return { x0: this.cx - rx, x1: this.cx + rx, y0: this.cy - ry, y1: this.cy + ry, sdf: (x, y) => this.sdf3(x, y, s) };
  }

  /** The same blob shrunk (negative) or grown by `d` mm along its radii: walls, shells, halos. */
  offset(d: number): Blob {
    return new Blob(this.cx, this.cy, this.cs, this.a + d, this.b + d, this.c + d, this.yaw, this.tilt, this.pert);
  }
}

/** A tapered tube between two points (vessels, airways, bowel, ribs): radius ra at A to rb at B. */
export class Capsule implements Shape3 {
  readonly s0: number;
  readonly s1: number;
  private readonly dx: number;
  private readonly dy: number;
  private readonly ds: number;
  private readonly len2: number;
  private readonly rmax: number;

  constructor(
    readonly ax: number,
    readonly ay: number,
    readonly as: number,
    readonly bx: number,
    readonly by: number,
    readonly bs: number,
    readonly ra: number,
    readonly rb: number,
  ) {
    this.dx = bx - ax;
    this.dy = by - ay;
    this.ds = bs - as;
    this.len2 = Math.max(1e-9, this.dx * this.dx + this.dy * this.dy + this.ds * this.ds);
    this.rmax = Math.max(ra, rb);
    this.s0 = Math.min(as, bs) - this.rmax;
    this.s1 = Math.max(as, bs) + this.rmax;
  }

  sdf3(x: number, y: number, s: number): number {
    const px = x - this.ax, py = y - this.ay, ps = s - this.as;
    let t = (px * this.dx + py * this.dy + ps * this.ds) / this.len2;
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    const ex = px - t * this.dx, ey = py - t * this.dy, es = ps - t * this.ds;
    return Math.sqrt(ex * ex + ey * ey + es * es) - (this.ra + (this.rb - this.ra) * t);
  }

  at(s: number): SliceShape | null {
    if (s < this.s0 || s > this.s1) return null;
    // Only the part of the axis within rmax of this slice can reach it.
    let t0 = 0, t1 = 1;
    if (Math.abs(this.ds) > 1e-6) {
      const ta = (s - this.rmax - this.as) / this.ds, tb = (s + this.rmax - this.as) / this.ds;
      t0 = Math.max(0, Math.min(ta, tb));
      t1 = Math.min(1, Math.max(ta, tb));
    }
    const xa = this.ax + t0 * this.dx, xb = this.ax + t1 * this.dx;
    const ya = this.ay + t0 * this.dy, yb = this.ay + t1 * this.dy;
    const r = this.rmax;
    return {
      x0: Math.min(xa, xb) - r,
      x1: Math.max(xa, xb) + r,
      y0: Math.min(ya, yb) - r,
      y1: Math.max(ya, yb) + r,
      sdf: (x, y) => this.sdf3(x, y, s),
    };
  }

  offset(d: number): Capsule {
    return new Capsule(this.ax, this.ay, this.as, this.bx, this.by, this.bs, Math.max(0.05, this.ra + d), Math.max(0.05, this.rb + d));
  }
}

/** Approximate distance to an axis-aligned ellipse (half-axes a, b) centred at (cx, cy); a split ellipse when bPost differs. */
export function ellipseSdf(x: number, y: number, cx: number, cy: number, a: number, bAnt: number, bPost = bAnt): number {
  const b = y < cy ? bAnt : bPost;
  const qx = (x - cx) / a, qy = (y - cy) / b;
  const q = Math.sqrt(qx * qx + qy * qy);
  if (q < 1e-6) return -Math.min(a, b);
  const g = Math.sqrt((qx / a) ** 2 + (qy / b) ** 2) / q;
  return (q - 1) / g;
}

/** A shape given per slice by a function (organs bounded by the body wall, the diaphragm, ...). */
export class SliceFn implements Shape3 {
  constructor(
    readonly s0: number,
    readonly s1: number,
    private readonly fn: (s: number) => SliceShape | null,
  ) {}

  at(s: number): SliceShape | null {
    return s < this.s0 || s > this.s1 ? null : this.fn(s);
  }

  sdf3(x: number, y: number, s: number): number {
    const sh = this.at(s);
    return sh ? sh.sdf(x, y) : 1e9;
  }
}
