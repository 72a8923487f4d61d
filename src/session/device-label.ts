import UAParser from 'ua-parser-js';

/**
 * A short, human label for the device behind a User-Agent, for the sessions list (ASVS 7.5.2): browser and major
 * version, and the operating system, e.g. "Firefox 128 on Ubuntu". Only the first 512 characters are read; a
 * header that names neither gives "Unknown device". The label is shown to the user it belongs to, never trusted.
 */

export const UNKNOWN_DEVICE = 'Unknown device';
const MAX_USER_AGENT = 512;
const MAX_LABEL = 64;

export function deviceLabel(userAgent: string | undefined): string {
  if (!userAgent) return UNKNOWN_DEVICE;
  const { browser, os } = new UAParser(userAgent.slice(0, MAX_USER_AGENT)).getResult();
  const client = browser.name ? [browser.name, browser.major].filter(Boolean).join(' ') : undefined;
  const system = os.name ? [os.name, os.version].filter(Boolean).join(' ') : undefined;
  const label = client && system ? `${client} on ${system}` : client ?? system ?? UNKNOWN_DEVICE;
  // Printable characters only: it ends up in a page and in logs.
  return label.replace(/[^\p{L}\p{N}\p{P}\p{Zs}]/gu, '').slice(0, MAX_LABEL);
}
