/**
 * The one typed configuration of lens-pacs. Every section has defaults that run the local demo; a config file
 * (JSON) and environment variables override them (see load.ts). Each stage reads only its own section.
 */
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { DEFAULT_DICOM_LIMITS } from '../dicom/limits';

/** Schemas of keys that hold a file or folder path: load.ts resolves them against the config file's folder. */
export const PATH_SCHEMAS = new WeakSet<z.ZodTypeAny>();
/**
 * A file or folder path. Relative values are resolved against the folder of the config file (the working
 * directory only when there is none), so that one config works under systemd as from a shell.
 */
export function pathString(): z.ZodString {
  const s = z.string().min(1);
  PATH_SCHEMAS.add(s);
  return s;
}
/** The repository (or installed package) root: the shipped model's default folder does not depend on the cwd. */
const PACKAGE_ROOT = path.resolve(__dirname, '../..');

const auth = z
  .discriminatedUnion('type', [
    z.object({ type: z.literal('none') }),
    z.object({ type: z.literal('basic'), username: z.string().min(1), password: z.string() }),
    z.object({ type: z.literal('bearer'), token: z.string().min(1) }),
  ])
  .default({ type: 'none' });

export const selectionSchema = z
  .object({
    modality: z.string().default('CT'),
    /**
     * ImageType values 1 and 2 that are accepted, best first: a series whose type comes later in the list ranks
     * below every series of an earlier type, whatever its spacing or kernel. DERIVED\PRIMARY is the CT of a PET-CT
     * on several scanners (low dose, smooth kernel, yet read diagnostically): accepted, after any ORIGINAL series.
     */
    imageTypes: z.array(z.string()).default(['ORIGINAL\\PRIMARY', 'DERIVED\\PRIMARY']),
    /**
     * A series without ImageType (removed by some de-identification tools) is accepted, ranked after every type
     * in `imageTypes`, and the volume says so; false refuses it.
     */
    acceptMissingImageType: z.boolean().default(true),
    /**
     * ImageType values (any position) or value pairs that mark images which are not a primary axial stack:
     * localizers, projections and reformats.
     */
    rejectImageTypeValues: z
      .array(z.string())
      .default(['LOCALIZER', 'SCOUT', 'TOPOGRAM', 'DERIVED\\SECONDARY', 'MIP', 'MINIP', 'MPR', 'REFORMATTED', 'PROJECTION IMAGE']),
    /** Maximum angle in degrees between the slice normal and the patient's head-foot axis. */
    maxObliquityDeg: z.number().min(0).max(90).default(10),
    /** Series whose slices are further apart are refused: the detector cannot follow a lesion between slices. */
    maxSliceSpacingMm: z.number().positive().default(10),
    /**
     * Slices thicker or further apart than this are accepted (up to `maxSliceSpacingMm`) with a note that small
     * lesions may be missed: the volume records it, the journey and the SR show it.
     */
    thickSliceMm: z.number().positive().default(5.5),
    minSlices: z.number().int().positive().default(20),
    /** ImageType value 3 accepted when present (an empty value 3 is always accepted). */
    imageType3: z.array(z.string()).default(['AXIAL', 'VOLUME']),
    /**
     * Soft-tissue kernels (ConvolutionKernel, case-insensitive), best first: an exact name, or a prefix ending in '*'.
     * Philips: B standard, A smooth, C/D/L/E/Y* sharper (L = lung). Siemens B30f/Br40: B3*, B4*, Br3*, Br4*, I3*.
     * GE: STANDARD, SOFT. Canon/Toshiba: FC07/FC08/FC18. A kernel matching none ranks after all matching ones.
     */
    preferredKernels: z
      .array(z.string())
      .default(['STANDARD', 'SOFT*', 'B', 'A', 'B30*', 'B31*', 'B40*', 'BR36*', 'BR40*', 'I30*', 'I31*', 'I40*', 'FC18', 'FC08', 'FC07', 'C']),
    /** Slices closer than this (mm) count as the same thickness when ranking candidates. */
    spacingTieMm: z.number().min(0).default(0.1),
    /**
     * Damaged slices (a nonsense rescale, another modality or study: docs/dicom.md "Consistency inside a series")
     * are excluded only at the ends of the stack, at most this many at each end: the volume is then just shorter.
     * An excluded slice between others, or more at one end, refuses the series (a gap would hide lesions).
     */
    maxExcludedSlicesPerEnd: z.number().int().min(0).default(2),
    /**
     * Sane RescaleSlope range for CT: outside it (0, NaN, 1e308) the slice is damaged. With stored values of at
     * most 16 bits, slope <= 100 and |intercept| <= maxAbsRescaleIntercept keep real tissue within Int16 HU; a
     * voxel still outside it is clipped and the volume says how many were.
     */
    minRescaleSlope: z.number().positive().default(0.01),
    maxRescaleSlope: z.number().positive().default(100),
    maxAbsRescaleIntercept: z.number().positive().default(32768),
  })
  .default({});

export const configSchema = z
  .object({
    /** Folder for the job database, the change-feed cursor and downloaded series. */
    workDir: pathString().default('.lens'),
    pacs: z
      .object({
        /** DICOMweb root, e.g. http://127.0.0.1:8042/dicom-web */
        dicomwebUrl: z.string().url().default('http://127.0.0.1:8042/dicom-web'),
        auth,
        timeoutMs: z.number().int().positive().default(60000),
        retries: z.number().int().min(0).default(4),
        retryBaseMs: z.number().int().positive().default(500),
        frameConcurrency: z.number().int().positive().default(8),
      })
      .default({}),
    /** Orthanc's own REST root (change feed); absent when the PACS is only reachable by DICOMweb. */
    orthanc: z
      .object({ url: z.string().url(), auth })
      .optional(),
    listener: z
      .object({
        changeFeed: z
          .object({
            enabled: z.boolean().default(true),
            intervalMs: z.number().int().positive().default(2000),
            /** Where a fresh cursor starts: 'now' ignores the archive's history, 'beginning' replays it. */
            startFrom: z.enum(['now', 'beginning']).default('now'),
          })
          .default({}),
        webhook: z.object({ enabled: z.boolean().default(true), secret: z.string().optional() }).default({}),
        dicomwebPoll: z
          .object({
            enabled: z.boolean().default(false),
            intervalMs: z.number().int().positive().default(60000),
            /** How far back each poll looks; windows overlap so that no boundary is missed. */
            lookbackMinutes: z.number().positive().default(120),
            /** Whole days of StudyDate before today that every poll covers: late-sent studies (src/listener/poll-window.ts). */
            studyDateLookbackDays: z.number().int().min(0).default(1),
          })
          .default({}),
      })
      .default({}),
    selection: selectionSchema,
    /** What one DICOM file may ask for (src/dicom/limits.ts, docs/dicom.md "Limits"); beyond it the file is refused. */
    dicom: z
      .object({
        maxSequenceDepth: z.number().int().positive().default(DEFAULT_DICOM_LIMITS.maxSequenceDepth),
        maxFrames: z.number().int().positive().default(DEFAULT_DICOM_LIMITS.maxFrames),
        maxRows: z.number().int().positive().default(DEFAULT_DICOM_LIMITS.maxRows),
        maxColumns: z.number().int().positive().default(DEFAULT_DICOM_LIMITS.maxColumns),
      })
      .default({}),
    model: z
      .object({
        /** Folder holding model.json. */
        dir: pathString().default(path.join(PACKAGE_ROOT, 'models/lens-ulb')),
        /** Tried in order; the first available is used. */
        executionProviders: z.array(z.enum(['cuda', 'cpu'])).default(['cpu']),
        threads: z.number().int().min(0).default(0),
        batchSize: z.number().int().positive().default(4),
        /** Report lesions scoring at least this (overrides the manifest's lesionScoreThreshold). */
        scoreThreshold: z.number().min(0).max(1).optional(),
      })
      .default({}),
    jobs: z
      .object({
        /** SQLite file (a path) or a database URL (left as it is). */
        database: pathString().optional(),
        concurrency: z.number().int().positive().default(1),
        leaseSeconds: z.number().int().positive().default(300),
        maxAttempts: z.number().int().positive().default(5),
        backoffSeconds: z.number().positive().default(10),
        /** Upper bound of the exponential retry delay. */
        maxBackoffSeconds: z.number().positive().default(600),
        /**
         * Transient failures are retried for at least this long (from the first of a run of them), however many
         * attempts it takes: a PACS restart or upgrade is waited out; only then does maxAttempts make a job dead.
         */
        retryHorizonMinutes: z.number().min(0).default(360),
        /**
         * While the PACS does not answer its readiness probe, workers take no job (none burns an attempt); the probe
         * runs this often, and waiting retries are made due at once when it answers again.
         */
        pacsProbeSeconds: z.number().positive().default(5),
        /**
         * Deaths of a study's analysis process seen by the service (out of memory, a signal, a stall) in one stage, or
         * PACS failures caused by one study, after which the job is quarantined as a poison suspect (docs/service.md).
         * Deaths never use up maxAttempts; kills of the whole service are not deaths of this kind.
         */
        poisonAfterDeaths: z.number().int().positive().default(3),
        /**
         * Each study is analysed in a child process of the service (src/worker/): the V8 heap ceiling of that process,
         * MB (--max-old-space-size). A study that exhausts it kills the child, not the service.
         */
        analysisMemoryMb: z.number().int().min(64).default(4096),
        /** A child that sends no sign of life for this long (its event loop blocked, no stage entered) is killed. */
        analysisStallSeconds: z.number().positive().default(120),
        /**
         * Intake (webhook, change feed, polling) stops while the job store's folder or the work dir has less free
         * space than this, before SQLite meets a full disk (0: only a real disk-full error stops it).
         */
        minFreeDiskMb: z.number().min(0).default(256),
        /** How often free space is checked and, while intake is stopped, a probe write is tried. */
        storeCheckSeconds: z.number().positive().default(5),
      })
      .default({}),
    server: z
      .object({
        host: z.string().default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(8700),
        /**
         * When set, the REST API and the dashboard require it (`Authorization: Bearer <token>`, or the session cookie
         * of the login page). Required whenever `host` is not a loopback address (src/config/service-requirements.ts).
         */
        apiToken: z.string().min(16, 'at least 16 characters (e.g. openssl rand -hex 16)').optional(),
      })
      .default({}),
    /**
     * This `lens serve` process among several sharing one job store (docs/deploy.md): every node runs
     * jobs.concurrency workers; one node at a time (the leader) follows the change feed and the DICOMweb poller.
     */
    node: z
      .object({
        /**
         * This node's stable name (default: the host name): a study received by C-STORE is analysed by the node
         * that holds its files (unless dimse.sharedWorkDir), also after that node restarts.
         */
        name: z.string().min(1).max(200).default(os.hostname()),
        /** GPUs this node's workers use (reported in /api/nodes and metrics; sizing in docs/deploy.md). */
        gpus: z.number().int().min(0).default(0),
        /** Whether this node may lead (run the event sources); false makes a worker-only node. */
        leaderEligible: z.boolean().default(true),
        /** A dead leader's role is taken over within about this many seconds (plus a third of it, the renewal period). */
        leaderTtlSeconds: z.number().min(1).default(15),
        /** How often the node records its status; a node silent for 3 periods is shown as gone. */
        statusSeconds: z.number().min(1).default(10),
      })
      .default({}),
    /** Classic DICOM networking (src/dimse, docs/dimse.md): a C-STORE SCP in, results by C-STORE out. */
    dimse: z
      .object({
        enabled: z.boolean().default(false),
        /** The AE title PACS and modalities send to (called AE title); others' associations are refused. */
        aeTitle: z.string().regex(/^[ -[\]-~]{1,16}$/, '1-16 printable characters, no backslash').default('LENS'),
        host: z.string().default('127.0.0.1'),
        port: z.number().int().min(0).max(65535).default(11112),
        /** Calling AE titles accepted; an empty list refuses every association (secure by default). */
        allowedCallingAeTitles: z.array(z.string().min(1).max(16)).default([]),
        /** A study is complete when no instance of it arrived for this long; then it is analysed. */
        quietSeconds: z.number().positive().default(30),
        /** Associations open at the same time at most; more are refused (transient: the sender retries). */
        maxAssociations: z.number().int().positive().default(8),
        /** Received bytes one study may hold, and all received studies together; beyond, C-STORE fails (A700). */
        maxStudyMb: z.number().positive().default(4096),
        maxTotalMb: z.number().positive().default(32768),
        /** Received files after the study's job ended: kept when it did not succeed ('failed'), never, or always. */
        keepReceived: z.enum(['never', 'failed', 'always']).default('failed'),
        /**
         * The work dir's dimse/ folder is on storage every node reads (a shared volume): any node may analyse a
         * received study. Otherwise (default) its job is left to the node that received it (node.name).
         */
        sharedWorkDir: z.boolean().default(false),
        /**
         * Where the SR and SEG of received studies go by C-STORE (a PACS without STOW-RS); absent: stored by
         * STOW-RS into pacs.dicomwebUrl. `confirm`: a C-FIND (IMAGE level) on the peer then checks they are there.
         */
        destination: z
          .object({
            aeTitle: z.string().min(1).max(16),
            host: z.string().default('127.0.0.1'),
            port: z.number().int().min(1).max(65535),
            confirm: z.boolean().default(true),
            timeoutMs: z.number().int().positive().default(60000),
            /**
             * Storage commitment (N-ACTION, docs/dimse.md): 'auto' where the peer accepts it (else the C-FIND
             * confirmation stands), 'on' required, 'off' never asked. Its report must come within commitmentTimeoutMs.
             */
            storageCommitment: z.enum(['auto', 'on', 'off']).default('auto'),
            commitmentTimeoutMs: z.number().int().positive().default(60000),
          })
          .optional(),
      })
      .default({}),
    harvest: z
      .object({
        enabled: z.boolean().default(false),
        /** node-cron expression; nightly at 02:00 by default. */
        schedule: z.string().default('0 2 * * *'),
        /** Hours after the scheduled start at which the night's harvest stops (it resumes the next night). */
        windowHours: z.number().positive().max(24).default(4),
        outDir: pathString().default('.lens/harvest'),
        /** The proposal classifier that scores the harvest's candidates (docs/harvest.md). */
        classifierDir: pathString().default(path.join(PACKAGE_ROOT, 'models/lens-fpr')),
        /** Days per QIDO-RS StudyDate query of the archive scan. */
        windowDays: z.number().int().positive().default(7),
        /** Frames read from the PACS at the same time at most during a harvest (the day's pacs.frameConcurrency is not used). */
        maxConcurrentRequests: z.number().int().positive().default(2),
        /** Pixel data read from the PACS at most this fast during a harvest, bytes per second (0: no limit). */
        maxBytesPerSecond: z.number().min(0).default(0),
        /** StudyInstanceUIDs of completely annotated studies, one per line (besides SRs that say so). */
        completeStudiesFile: pathString().optional(),
        /** Threshold choice on the completely annotated studies (docs/harvest.md#thresholds). */
        minPrecision: z.number().gt(0).max(1).default(0.95),
        maxLesionFractionBelowLow: z.number().min(0).max(1).default(0.02),
        /** Fewer completely annotated candidates than this: the default thresholds below are used. */
        minCandidates: z.number().int().min(1).default(20),
        /** Unset: the classifier manifest's own operating point (`scoring.finalScoreThreshold`), which moves with its version. */
        defaultHighThreshold: z.number().min(0).max(1).optional(),
        defaultLowThreshold: z.number().min(0).max(1).default(0.2),
        /** The model registry (src/models/registry.ts): the promoted detector the service loads instead of model.dir. */
        registryDir: pathString().default('.lens/models'),
        /** How often `lens serve` reads the registry for a promotion or rollback to load (src/worker/model-reload.ts); 0: never, restart to switch. */
        registryCheckSeconds: z.number().min(0).default(5),
      })
      .default({}),
  })
  .strict();

export type LensConfig = z.infer<typeof configSchema>;
export type SelectionRules = z.infer<typeof selectionSchema>;
export type AuthConfig = z.infer<typeof auth>;
