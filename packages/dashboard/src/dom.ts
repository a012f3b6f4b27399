// Building DOM from data: elements and text nodes only, never HTML from strings, so that what a
// log holds is shown as text whatever it contains (the CSP's Trusted Types would refuse it anyway).

export type Child = Node | string | number | null | undefined | false | readonly Child[]
type Handler = (event: never) => void
export type Props = Record<string, string | number | boolean | null | undefined | Handler>

/** `<tag props>children</tag>`. `on*` functions are listeners; `true` is an empty attribute; `false`, null and undefined are left out. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props: Props = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag)
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue
    if (typeof value === 'function') element.addEventListener(name.slice(2), value as EventListener)
    else if (name === 'value') (element as HTMLInputElement).value = String(value)
    else element.setAttribute(name, value === true ? '' : String(value))
  }
  append(element, children)
  return element
}

export function append(parent: Node, children: readonly Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue
    if (Array.isArray(child)) append(parent, child)
    else parent.appendChild(child instanceof Node ? child : document.createTextNode(String(child)))
  }
}

/** Replaces the children of `parent`. */
export function replace(parent: Element, ...children: Child[]): void {
  parent.replaceChildren()
  append(parent, children)
}

/** JSON as indented text, for a <pre>. */
export function pretty(value: unknown): string {
  return JSON.stringify(value, null, 2)
}
