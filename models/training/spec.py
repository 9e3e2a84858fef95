"""The model I/O contract (docs/contracts.md#preprocessing, src/detect/manifest.ts): one place for the constants that
the Python preprocessing and the exported manifest share, so the two cannot drift apart."""

# Order of src/detect/findings.ts LESION_TYPES: the heatmap channel order of the universal head.
LESION_TYPES = ['lung_nodule', 'liver_lesion', 'kidney_cyst', 'lymph_node', 'bone_lesion', 'soft_tissue']

K = 1                      # 2k+1 input slices by default; a model's own count is its arch 'slices' (train.py --slices)
SLICES = 2 * K + 1
SLICE_INTERVAL_MM = 2.0    # distance between neighbouring input slices
SLICE_STRIDE_MM = 2.5      # distance between analysed positions at inference
PIXEL_SPACING_MM = 1.5     # in-plane spacing of the network input
HU_WINDOW = (-1024.0, 1024.0)
SIZE_MULTIPLE = 16
STRIDE = 4
INPUT_NAME = 'input'
HEADS = {'universal': len(LESION_TYPES)}
SCORE_THRESHOLD = 0.5  # about 4 false positives per phantom volume on the validation set
FUSION_IOU = 0.55  # heads' detections on a slice overlapping by this much are one proposal (src/detect/fuse.ts)
