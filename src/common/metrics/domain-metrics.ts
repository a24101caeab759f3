/**
 * What the domain reports for /metrics. The ops part provides it; a worker-only process serves
 * no /metrics and has none, so the domain injects it as optional.
 */
export abstract class DomainMetrics {
  /** An authorization decision was made (`reasons`: its reason codes). */
  abstract decision(verdict: string, reasons: string[], seconds: number): void;
  /** An approval request reached a final status, `secondsSinceParked` after it was parked. */
  abstract approvalSettled(status: string, secondsSinceParked: number): void;
  /** One notification delivery attempt ended (`outcome` e.g. sent, failed, skipped). */
  abstract notification(channel: string, outcome: string): void;
  /** A callback to a gateway failed. */
  abstract callbackFailed(): void;
}
