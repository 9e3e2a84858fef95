/**
 * Jest transform for the TypeScript sources: ts-jest, then each module's body wrapped in a
 * function that receives the built-ins its hot loops use (Math, typed arrays, ...) as parameters.
 *
 * Why: jest runs every module inside a vm context, where each lookup of a global name goes through the context's
 * interceptors; a loop calling Math.min or `new Float32Array` runs 10 to 40 times slower there than in plain Node
 * (a 160 x 160 x 48 tissue map: 6 s in jest, 0.16 s in Node). Local parameters are plain variables, so the code runs
 * at Node's speed. The values are the sandbox's own built-ins (the same objects the code saw before), so nothing a
 * test can observe changes: same realm for typed arrays (onnxruntime-node's check), spies on Math still seen.
 * Globals that tests replace (Date, timers) are left alone.
 */
const tsJest = require('ts-jest').default;

const BUILTINS = [
  'Math', 'Number', 'Array', 'Object', 'String', 'Boolean', 'JSON', 'Symbol', 'BigInt', 'ArrayBuffer', 'DataView',
  'Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array', 'Int32Array', 'Uint32Array',
  'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array', 'isNaN', 'isFinite', 'parseInt', 'parseFloat',
];
/** Part of jest's cache key: change it whenever wrap() changes its output. */
const SALT = 'sandbox-globals-1';

/** The built-ins a module's text names and never declares itself as let/const/class (a parameter would clash). */
function localisable(code) {
  return BUILTINS.filter((n) => new RegExp(`\\b${n}\\b`).test(code) && !new RegExp(`\\b(?:let|const|class)\\s+${n}\\b`).test(code));
}

/**
 * `(function (Math, ...) { <code>\n}).call(this, Math, ...);` with the prefix on the first line, so that line
 * numbers (and the source map) stay as they were; a leading "use strict" stays the first statement of the body.
 */
function wrap(code) {
  const names = localisable(code);
  if (names.length === 0 || /^#!/.test(code)) return code;
  const list = names.join(', ');
  return `(function (${list}) {${code}\n}).call(this, ${list});`;
}

function withCode(result, code) {
  return typeof result === 'string' ? code : { ...result, code };
}

module.exports = {
  createTransformer(tsJestConfig) {
    const ts = tsJest.createTransformer(tsJestConfig);
    return {
      canInstrument: false,
      process(src, p, opts) {
        const out = ts.process(src, p, opts);
        return withCode(out, wrap(typeof out === 'string' ? out : out.code));
      },
      getCacheKey(src, p, opts) {
        return `${ts.getCacheKey(src, p, opts)}:${SALT}`;
      },
    };
  },
};
