/** Text without the NULs Windows structures pad their strings with (at the end, or from the first one on). */
export function trimNuls(s: string, fromFirst = false): string {
  const i = fromFirst ? s.indexOf("\u0000") : -1;
  if (i >= 0) return s.slice(0, i);
  let end = s.length;
  while (end > 0 && s.charCodeAt(end - 1) === 0) end--;
  return end === s.length ? s : s.slice(0, end);
}
