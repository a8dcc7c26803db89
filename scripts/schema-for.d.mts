export function schemaFor(source: string, provider: 'sqlite' | 'postgresql'): string;
