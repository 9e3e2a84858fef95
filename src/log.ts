/**
 * Structured JSON logs (winston). Patient names, IDs and birth dates never belong in a log line: log UIDs and
 * job ids instead. As a second line of defence, fields whose names say they hold patient data are dropped.
 */
import winston from 'winston';

const PHI_KEYS = /^(patient.?name|patient.?id|patient.?birth.?date|birth.?date|PatientName|PatientID|PatientBirthDate)$/i;

const dropPatientData = winston.format((info) => {
  for (const key of Object.keys(info)) if (PHI_KEYS.test(key)) delete (info as Record<string, unknown>)[key];
  return info;
});

export const log = winston.createLogger({
  level: process.env.LENS_LOG_LEVEL ?? (process.env.NODE_ENV === 'test' ? 'warn' : 'info'),
  format: winston.format.combine(dropPatientData(), winston.format.timestamp(), winston.format.errors({ stack: false }), winston.format.json()),
  // stderr, so that command output on stdout stays machine-readable.
  transports: [new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'] })],
});

/** Adds a JSON-lines file beside the console, e.g. for the service's own log file. */
export function logToFile(path: string): void {
  log.add(new winston.transports.File({ filename: path }));
}
