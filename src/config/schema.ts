/**
 * The one typed configuration of lens-pacs. Every section has defaults that run the local demo; a config file
 * (JSON) and environment variables override them (see load.ts). Each stage reads only its own section.
 */
import { z } from 'zod';
import { DEFAULT_DICOM_LIMITS } from '../dicom/limits';

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
    workDir: z.string().default('.lens'),
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
        dir: z.string().default('models/lens-ulb'),
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
        database: z.string().optional(),
        concurrency: z.number().int().positive().default(1),
        leaseSeconds: z.number().int().positive().default(300),
        maxAttempts: z.number().int().positive().default(5),
        backoffSeconds: z.number().positive().default(10),
        /** Upper bound of the exponential retry delay. */
        maxBackoffSeconds: z.number().positive().default(600),
        /**
         * Worker deaths (process killed or crashed while the job ran) in one stage, or PACS failures caused by one
         * study, after which the job is quarantined as a poison suspect (docs/service.md). Deaths never use up maxAttempts.
         */
        poisonAfterDeaths: z.number().int().positive().default(3),
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
        /** When set, the REST API and the dashboard require `Authorization: Bearer <token>`. */
        apiToken: z.string().optional(),
      })
      .default({}),
    harvest: z
      .object({
        enabled: z.boolean().default(false),
        /** node-cron expression; nightly at 02:00 by default. */
        schedule: z.string().default('0 2 * * *'),
        outDir: z.string().default('.lens/harvest'),
      })
      .default({}),
  })
  .strict();

export type LensConfig = z.infer<typeof configSchema>;
export type SelectionRules = z.infer<typeof selectionSchema>;
export type AuthConfig = z.infer<typeof auth>;
