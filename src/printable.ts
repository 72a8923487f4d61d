/**
 * Text for a terminal: control characters as `?`. Alerts and reviews quote user names and user agents, which
 * clients choose, and a terminal obeys the escape sequences it prints.
 */
export const printable = (text: string): string => text.replace(/\p{Cc}/gu, '?');
