/**
 * OHIF Viewer v3 (the prebuilt dist/ of npm @ohif/app, fetched by scripts/setup-ohif.sh) served on loopback with
 * an app-config.js pointing at a test Orthanc. /dicom-web and /wado are proxied to Orthanc from the same origin,
 * passing the browser's Host header through: Orthanc builds bulk-data URLs from it
 * (docs/contracts.md#third-party-behaviour).
 */
import express from 'express';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

export const OHIF_VERSION = process.env.OHIF_VERSION ?? '3.12.10';
export const OHIF_DIST = path.resolve(__dirname, `../../node_modules/.cache/ohif/${OHIF_VERSION}/dist`);

export function ohifAvailable(): boolean {
  return fs.existsSync(path.join(OHIF_DIST, 'index.html'));
}

/** The data source settings that work with Orthanc's DICOMweb plugin 1.7 (docs/contracts.md#third-party-behaviour). */
export function appConfig(): string {
  return `window.config = {
  routerBasename: '/',
  extensions: [],
  modes: [],
  showStudyList: true,
  maxNumberOfWebWorkers: 2,
  showWarningMessageForCrossOrigin: false,
  showCPUFallbackMessage: false,
  showLoadingIndicator: true,
  investigationalUseDialog: { option: 'never' },
  strictZSpacingForVolumeViewport: true,
  defaultDataSourceName: 'dicomweb',
  dataSources: [
    {
      namespace: '@ohif/extension-default.dataSourcesModule.dicomweb',
      sourceName: 'dicomweb',
      configuration: {
        friendlyName: 'Orthanc (test)',
        name: 'orthanc',
        wadoUriRoot: window.location.origin + '/wado',
        qidoRoot: window.location.origin + '/dicom-web',
        wadoRoot: window.location.origin + '/dicom-web',
        qidoSupportsIncludeField: false,
        supportsReject: false,
        imageRendering: 'wadors',
        thumbnailRendering: 'wadors',
        enableStudyLazyLoad: true,
        supportsFuzzyMatching: false,
        supportsWildcard: true,
        omitQuotationForMultipartRequest: true,
        staticWado: false,
        singlepart: 'bulkdata,video',
        bulkDataURI: { enabled: true },
      },
    },
  ],
};
`;
}

export interface OhifServer {
  url: string;
  close(): Promise<void>;
}

/** Starts the viewer on 127.0.0.1 (free port), proxying to orthancUrl (http://127.0.0.1:PORT). */
export async function startOhif(orthancUrl: string): Promise<OhifServer> {
  if (!ohifAvailable()) throw new Error(`OHIF not found in ${OHIF_DIST}: run scripts/setup-ohif.sh`);
  const target = new URL(orthancUrl);
  const app = express();
  const proxy: express.RequestHandler = (req, res) => {
    const upstream = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: req.originalUrl, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', (e) => {
      if (!res.headersSent) res.status(502).end(`proxy: ${e.message}`);
      else res.end();
    });
    req.pipe(upstream);
  };
  app.use('/dicom-web', proxy);
  app.use('/wado', proxy);
  app.get('/app-config.js', (_req, res) => res.type('application/javascript').send(appConfig()));
  // No service worker: it would cache across tests.
  app.get('/sw.js', (_req, res) => res.status(404).end());
  app.use(express.static(OHIF_DIST, { index: false }));
  app.get('*', (_req, res) => res.sendFile(path.join(OHIF_DIST, 'index.html')));
  const server = await new Promise<http.Server>((resolve, reject) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s)).on('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
