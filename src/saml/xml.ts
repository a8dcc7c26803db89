// Escaping for values we place into XML we write ourselves (metadata, POST forms are HTML-escaped by the view).
const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };
export const xmlEscape = (value: string) => value.replace(/[&<>"']/g, (c) => ENTITIES[c]);
