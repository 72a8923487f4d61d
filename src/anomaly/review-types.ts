/** The daily review's shape, shared by its builder (review.ts) and its HTML page (review-html.ts). */

export interface CountRow {
  key: string;
  count: number;
}

/** What a review shows for a missing value: a failure without a country, a login without a parsed user agent. */
export const UNKNOWN = 'unknown';

/** A device is new when its user logged in during these days before, never with it (the rules' country baseline). */
export const NEW_DEVICE_BASELINE_DAYS = 30;

/** A browser, system and device a user logged in with on the day and not once in the baseline days before. */
export interface NewDevice {
  user: string;
  /** `user_agent.name`, `user_agent.os.name`, `user_agent.device.name`; `unknown` when the event has none. */
  browser: string;
  os: string;
  device: string;
  firstSeen: string;
}

export interface DailyReview {
  day: string;
  /** When the review was built: before the day's end, the later hours are not in it. */
  builtAt: string;
  logins: { success: number; failure: number };
  /** 24 rows, one per UTC hour: `hour` is its start. */
  hourly: Array<{ hour: string; success: number; failure: number }>;
  events: Record<string, number>;
  topFailingSources: CountRow[];
  /** By `source.geo.country_iso_code`; `unknown` for failures without one (private addresses, no database). */
  topFailingCountries: CountRow[];
  topFailingUsers: CountRow[];
  newDevices: NewDevice[];
  alertsByRule: CountRow[];
  alertsBySeverity: CountRow[];
}
