export declare const SUPERVISOR_PLATFORMS: string[];
/** Builds into `out` (created); returns false (after a note) when go is not installed. */
export declare function buildSupervisors(
  out: string,
  opts?: { go?: string; log?: (message: string) => void },
): boolean;
