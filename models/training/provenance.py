"""What a training run or an export was made from: the git commit of the code and a hash of each data set, recorded
in the manifest's `training` (train.py, export.py) so that a model can be traced to its exact inputs.

Data set hash (`dataSets[].sha256`): the SHA-256 of a text manifest with one line per file that training reads,
`<study folder name>/<file name> <SHA-256 of the file's bytes, hex>\\n`, for the files STUDY_FILES of each study
used from the data set, studies in the order training lists them (sorted by folder name). Only those files count:
caches, previews, DICOM copies and marker files next to them do not change what training sees, so they do not
change the hash. Re-computing it by hand:

    cd DATASET && for d in $(LC_ALL=C ls); do for f in volume.i16 volume.json truth.json; do
      [ -f "$d/$f" ] && echo "$d/$f $(sha256sum < "$d/$f" | cut -d' ' -f1)"; done; done | sha256sum

(for a data set whose studies all have the three files, as `lens synth --format raw` writes them).
"""
import hashlib
import os
import subprocess
from typing import Any, Dict, List, Optional

# The files of a raw study that load_study (data.py) reads.
STUDY_FILES = ('volume.i16', 'volume.json', 'truth.json')
REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))


def file_sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            h.update(block)
    return h.hexdigest()


def dataset_record(root: str, study_dirs: List[str], role: str) -> Dict[str, Any]:
    """The record of one data set (a folder of raw studies) of which `study_dirs` were used."""
    lines = []
    for d in study_dirs:
        name = os.path.basename(os.path.normpath(d))
        for f in STUDY_FILES:
            p = os.path.join(d, f)
            if os.path.isfile(p):
                lines.append(f'{name}/{f} {file_sha256(p)}\n')
    return {
        'path': os.path.relpath(os.path.abspath(root), REPO_ROOT) if os.path.abspath(root).startswith(REPO_ROOT + os.sep) else os.path.abspath(root),
        'role': role,
        'studies': len(study_dirs),
        'sha256': hashlib.sha256(''.join(lines).encode()).hexdigest(),
        'hash': 'provenance.py: SHA-256 over "<study>/<file> <file SHA-256>" lines of ' + ', '.join(STUDY_FILES),
    }


def _git(*args: str) -> Optional[str]:
    try:
        r = subprocess.run(['git', '-C', REPO_ROOT, *args], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return r.stdout if r.returncode == 0 else None


def git_record() -> Dict[str, Any]:
    """The commit the code was run from and whether the work tree differed from it (tracked or untracked files,
    outside .gitignore): a dirty tree means the commit alone does not reproduce the run."""
    commit = _git('rev-parse', 'HEAD')
    if commit is None:
        return {'commit': None, 'dirty': None, 'note': f'{REPO_ROOT} is not a git work tree (or git is missing)'}
    status = _git('status', '--porcelain')
    return {'commit': commit.strip(), 'dirty': None if status is None else bool(status.strip())}
