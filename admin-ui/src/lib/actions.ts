/**
 * Sets an element's height in px through the CSSOM. The dashboard's CSP (style-src 'self') forbids
 * style attributes (and Svelte's style: directive writes one), but not `element.style` writes.
 */
export function heightPx(node: HTMLElement, px: number) {
  const set = (v: number) => node.style.setProperty('height', `${Math.max(0, Math.round(v))}px`);
  set(px);
  return { update: set };
}
