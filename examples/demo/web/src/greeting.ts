export function greeting(): string {
  return "hello from web";
}
