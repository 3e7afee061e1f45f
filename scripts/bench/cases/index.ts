// Every benchmark case, in the order a run takes them (a new case: a module here, listed below).
import type { BenchCase } from '../env';
import { enqueueBulk, enqueueOne } from './enqueue';
import { processCases } from './process';
import { mirrorCase } from './mirror';
import { flowCase } from './flow';
import { txEnqueueCase } from './tx-enqueue';
import { metricsCase } from './metrics';
import { depthCase } from './depth';
import { pickupCase } from './pickup';
import { bytesCase } from './bytes';
import { dashboardCase } from './dashboard';

export const CASES: BenchCase[] = [enqueueBulk, enqueueOne, ...processCases, mirrorCase, flowCase, txEnqueueCase, metricsCase, depthCase, pickupCase, bytesCase, dashboardCase];
