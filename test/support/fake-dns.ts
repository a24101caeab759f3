import type { ResolvedAddress } from '../../src/common/host-allow-list';

/**
 * What a fake DNS answers for names under .test (they never resolve in real DNS): each an address
 * an outbound request must never reach unless the allow-list names it.
 */
export const INTERNAL_NAME_ANSWERS: Readonly<Record<string, ResolvedAddress[]>> = {
  'internal.test': [{ address: '10.0.0.5', family: 4 }],
  'metadata.test': [{ address: '169.254.169.254', family: 4 }],
  'loopback6.test': [{ address: '::1', family: 6 }],
  'mixed.test': [
    { address: '93.184.215.14', family: 4 },
    { address: '192.168.0.10', family: 4 },
  ],
};
