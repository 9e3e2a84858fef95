import type { Command } from 'commander';
import { loadConfig, redactConfig } from '../config/load';
import { log, logToFile } from '../log';
import { startService } from '../server/service';
import { UserError } from './errors';

export function register(program: Command): void {
  program
    .command('serve')
    .description('run the service: PACS listeners (change feed, webhook, DICOMweb poll), workers and the web server')
    .option('--log-file <file>', 'also write the JSON log lines to this file')
    .action(async (opts: { logFile?: string }, cmd: Command) => {
      const config = loadConfig({ file: cmd.optsWithGlobals().config });
      if (opts.logFile) logToFile(opts.logFile);
      log.info('configuration', { config: redactConfig(config) });
      let service;
      try {
        service = await startService(config);
      } catch (e) {
        throw new UserError(`cannot start the service: ${(e as Error).message}`);
      }
      process.stdout.write(`lens-pacs listening on ${service.url} (dashboard ${service.url}/dashboard)\n`);
      await new Promise<void>((resolve) => {
        const shutdown = (signal: string) => {
          log.info('shutting down', { signal });
          service!.stop().then(resolve, (e) => {
            log.error('shutdown failed', { error: (e as Error).message });
            resolve();
          });
        };
        process.once('SIGTERM', () => shutdown('SIGTERM'));
        process.once('SIGINT', () => shutdown('SIGINT'));
      });
    });
}
