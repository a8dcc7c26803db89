// prisma/schema.prisma names SQLite; the same schema for another provider, with its own client output folder.
export function schemaFor(source, provider) {
  return source
    .replace(/provider = "sqlite"/, `provider = "${provider}"`)
    .replace(/output\s+=\s+"[^"]*"/, `output   = "./${provider}"`);
}
