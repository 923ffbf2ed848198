/** Parses a non-negative decimal string ("0.001") into minor units at `scale` decimals. Never a float. */
export function decimalToMinor(text: string, scale: number): bigint {
  const match = /^(\d+)(?:\.(\d+))?$/.exec(text.trim());
  if (!match) throw new Error(`not a non-negative decimal: "${text}"`);
  const whole = match[1] ?? '0';
  const fraction = match[2] ?? '';
  if (fraction.length > scale) throw new Error(`"${text}" has more than ${scale} decimals`);
  return BigInt(whole + fraction.padEnd(scale, '0'));
}

/** Formats minor units at `scale` decimals as a decimal string without trailing zeros. */
export function minorToDecimal(minor: bigint, scale: number): string {
  const negative = minor < 0n;
  const digits = (negative ? -minor : minor).toString().padStart(scale + 1, '0');
  const whole = digits.slice(0, digits.length - scale);
  const fraction = digits.slice(digits.length - scale).replace(/0+$/, '');
  return `${negative ? '-' : ''}${whole}${fraction ? `.${fraction}` : ''}`;
}

/** Parses a signed decimal string (a Postgres numeric, e.g. "-1.500000000000000000") into minor units. */
export function signedDecimalToMinor(text: string, scale: number): bigint {
  const trimmed = text.trim();
  if (trimmed.startsWith('-')) return -decimalToMinor(trimmed.slice(1), scale);
  return decimalToMinor(trimmed.startsWith('+') ? trimmed.slice(1) : trimmed, scale);
}
