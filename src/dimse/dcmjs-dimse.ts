/**
 * The one import of dcmjs-dimse (DIMSE SCU and SCP for Node). Its logger writes every PDU to the console at info
 * level, with datasets when asked: it is silenced, and what matters is logged by lens-pacs itself (no patient data).
 */
import * as dimse from 'dcmjs-dimse';

dimse.log.setLevel('silent');

export { dimse };
export type Association = dimse.association.Association;
export type PresentationContext = dimse.association.PresentationContext;
export type CStoreRequest = dimse.requests.CStoreRequest;
