// Measures the forward-pass latency of an exported model in onnxruntime-node (the runtime D2 uses), 2 threads.
const ort = require('onnxruntime-node');
(async () => {
  const s = await ort.InferenceSession.create(process.argv[2] || 'models/lens-ulb/model.onnx', {intraOpNumThreads: 2, interOpNumThreads: 1});
  console.log(s.inputNames, s.outputNames);
  for (const [N,H,W] of [[1,256,256],[4,240,240],[1,192,176]]) {
    const x = new ort.Tensor('float32', new Float32Array(N*3*H*W).fill(0.5), [N,3,H,W]);
    let r = await s.run({input: x});
    const t0 = Date.now(); const reps = 5;
    for (let i=0;i<reps;i++) r = await s.run({input: x});
    const dt = (Date.now()-t0)/reps;
    console.log(N,H,W, 'ms/batch', dt.toFixed(1), 'ms/stack', (dt/N).toFixed(1), Object.entries(r).map(([k,v])=>k+':'+v.dims.join('x')).join(' '));
  }
})();
