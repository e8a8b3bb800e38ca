// The Avro schema shapes tools/codegen/avro-types.mjs reads (the subset schemas/ uses); types only.
export type AvroType = string | AvroType[] | AvroComplex;

export interface AvroField {
  name: string;
  doc?: string;
  type: AvroType;
}

export interface AvroComplex {
  type: string;
  name: string;
  doc?: string;
  symbols: string[];
  fields: AvroField[];
  items: AvroType;
  values: AvroType;
}
