/** Metric metadata as span attributes: primitives kept, structures as JSON, nothing that can throw. */
import type { AttributeValue, Attributes } from '@opentelemetry/api';

export function toAttributes(metadata: Record<string, unknown>): Attributes {
  const attributes: Attributes = {};
  for (const [key, value] of Object.entries(metadata)) {
    const attribute = toAttributeValue(value);
    if (attribute !== undefined) {
      attributes[key] = attribute;
    }
  }
  return attributes;
}

function toAttributeValue(value: unknown): AttributeValue | undefined {
  if (typeof value === 'string' || typeof value === 'boolean') {
    return value;
  }
  if (typeof value === 'number') {
    return Number.isFinite(value) ? value : undefined;
  }
  if (value === null || value === undefined || typeof value === 'function') {
    return undefined;
  }
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
}
