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
import { peerLimiterCase } from './peer-limiter';
import { uniqueCase } from './unique';
import { peerDedupCase } from './peer-dedup';
import { peerSchedulerCase } from './peer-scheduler';
import { schedulerCostCase } from './scheduler-cost';
import { replicasCase } from './replicas';
import { dashboardCase } from './dashboard';

export const CASES: BenchCase[] = [enqueueBulk, enqueueOne, ...processCases, mirrorCase, flowCase, txEnqueueCase, metricsCase, depthCase, pickupCase, bytesCase,
  peerLimiterCase, uniqueCase, peerDedupCase, peerSchedulerCase, schedulerCostCase, replicasCase, dashboardCase];
