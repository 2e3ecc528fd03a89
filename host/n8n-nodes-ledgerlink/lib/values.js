'use strict';
/**
 * WIT-JSON <-> the values jco's bindings take and give, by type.
 *
 * WIT-JSON is the project's one JSON form of WIT values (`host/src/runtime/dynamic.rs`): records
 * as objects with the kebab-case field names (a missing `option` field is `null`), enums as
 * strings, variants as `"case"` or `{"case": payload}`, options as `null` or the value, results as
 * `{"ok": ..}` / `{"err": ..}`, lists and tuples as arrays.
 *
 * jco's form: record fields in lowerCamelCase, options as `undefined` or the value, variants as
 * `{tag, val}`, 64-bit integers as BigInt. Input that does not fit the type is refused with the
 * path of the bad value, like the Rust host does.
 */

const INTEGERS = {
  u8: [0, 255], u16: [0, 65535], u32: [0, 4294967295],
  s8: [-128, 127], s16: [-32768, 32767], s32: [-2147483648, 2147483647],
};

/** `line-num` -> `lineNum`, as jco names record fields. */
function camel(name) {
  return name.split('-').map((w, i) => (i === 0 ? w : w.charAt(0).toUpperCase() + w.slice(1))).join('');
}

function join(path, name) { return path ? `${path}.${name}` : name; }

function describe(v) {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return { boolean: 'a boolean', number: 'a number', string: 'a string', object: 'an object' }[typeof v] || typeof v;
}

class InputError extends Error {}

function wrong(path, expected, value) {
  return new InputError(`${path || 'input'}: expected ${expected}, found ${describe(value)}`);
}

/** WIT-JSON -> jco value of type `ty`. */
function toJco(json, ty, path = '') {
  switch (ty.kind) {
    case 'bool':
      if (typeof json !== 'boolean') throw wrong(path, 'a boolean', json);
      return json;
    case 'string':
      if (typeof json !== 'string') throw wrong(path, 'a string', json);
      return json;
    case 'char':
      if (typeof json !== 'string' || [...json].length !== 1) throw wrong(path, 'a one-character string', json);
      return json;
    case 'u8': case 'u16': case 'u32': case 's8': case 's16': case 's32': {
      const [lo, hi] = INTEGERS[ty.kind];
      if (!Number.isInteger(json)) throw wrong(path, 'an integer', json);
      if (json < lo || json > hi) throw new InputError(`${path}: ${json} is out of range`);
      return json;
    }
    case 'u64': case 's64': {
      if (!Number.isInteger(json) && typeof json !== 'bigint') throw wrong(path, 'an integer', json);
      return BigInt(json);
    }
    case 'f32': case 'f64':
      throw new InputError(`${path}: floats are not part of the Ledgerlink contract`);
    case 'list':
      if (!Array.isArray(json)) throw wrong(path, 'an array', json);
      return json.map((item, i) => toJco(item, ty.of, `${path}[${i}]`));
    case 'tuple':
      if (!Array.isArray(json) || json.length !== ty.of.length) throw wrong(path, `an array of ${ty.of.length} elements`, json);
      return json.map((item, i) => toJco(item, ty.of[i], `${path}[${i}]`));
    case 'option':
      if (ty.of.kind === 'option') throw new InputError(`${path}: nested options are not part of the contract`);
      return json === null || json === undefined ? undefined : toJco(json, ty.of, path);
    case 'record': {
      if (json === null || typeof json !== 'object' || Array.isArray(json)) throw wrong(path, 'an object', json);
      const known = ty.fields.map((f) => f.name);
      const extra = Object.keys(json).find((k) => !known.includes(k));
      if (extra !== undefined) throw new InputError(`${join(path, extra)}: unknown field (expected one of: ${known.join(', ')})`);
      const out = {};
      for (const f of ty.fields) {
        const sub = join(path, f.name);
        if (!(f.name in json) && f.type.kind !== 'option') throw new InputError(`${sub}: missing required field`);
        out[camel(f.name)] = toJco(f.name in json ? json[f.name] : null, f.type, sub);
      }
      return out;
    }
    case 'enum':
      if (typeof json !== 'string') throw wrong(path, 'a string', json);
      if (!ty.cases.includes(json)) throw new InputError(`${path}: ${JSON.stringify(json)} is not one of: ${ty.cases.join(', ')}`);
      return json;
    case 'variant': {
      let name;
      let payload;
      if (typeof json === 'string') {
        name = json;
      } else if (json && typeof json === 'object' && !Array.isArray(json) && Object.keys(json).length === 1) {
        [[name, payload]] = Object.entries(json);
      } else {
        throw wrong(path, `a case name or a one-key object (${ty.cases.map((c) => c.name).join(', ')})`, json);
      }
      const c = ty.cases.find((k) => k.name === name);
      if (!c) throw new InputError(`${path}: ${JSON.stringify(name)} is not one of: ${ty.cases.map((k) => k.name).join(', ')}`);
      if (!c.type) {
        if (payload !== undefined && payload !== null) throw new InputError(`${path}: case ${JSON.stringify(name)} takes no payload`);
        return { tag: name };
      }
      if (payload === undefined) throw new InputError(`${path}: case ${JSON.stringify(name)} needs a payload`);
      return { tag: name, val: toJco(payload, c.type, join(path, name)) };
    }
    case 'result': {
      if (!json || typeof json !== 'object' || Object.keys(json).length !== 1 || !('ok' in json || 'err' in json)) {
        throw wrong(path, '{"ok": ..} or {"err": ..}', json);
      }
      const tag = 'ok' in json ? 'ok' : 'err';
      const t = ty[tag];
      return { tag, val: t ? toJco(json[tag], t, join(path, tag)) : undefined };
    }
    case 'flags': {
      if (!Array.isArray(json) || json.some((n) => !ty.names.includes(n))) throw wrong(path, 'an array of flag names', json);
      return Object.fromEntries(ty.names.map((n) => [camel(n), json.includes(n)]));
    }
    default:
      throw new InputError(`${path}: values of type ${ty.kind} cannot be given as JSON`);
  }
}

/** jco value of type `ty` -> WIT-JSON. */
function fromJco(val, ty) {
  switch (ty.kind) {
    case 'u64': case 's64': {
      const n = BigInt(val);
      return n <= BigInt(Number.MAX_SAFE_INTEGER) && n >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(n) : n.toString();
    }
    case 'list': case 'tuple':
      return val.map((item, i) => fromJco(item, ty.kind === 'list' ? ty.of : ty.of[i]));
    case 'option':
      return val === undefined || val === null ? null : fromJco(val, ty.of);
    case 'record':
      return Object.fromEntries(ty.fields.map((f) => [f.name, fromJco(val[camel(f.name)], f.type)]));
    case 'variant': {
      const c = ty.cases.find((k) => k.name === val.tag);
      if (!c) throw new Error(`the component answered an unknown case ${val.tag} of ${ty.name}`);
      return c.type ? { [c.name]: fromJco(val.val, c.type) } : c.name;
    }
    case 'result': {
      const t = ty[val.tag];
      return { [val.tag]: t ? fromJco(val.val, t) : null };
    }
    case 'flags':
      return ty.names.filter((n) => val[camel(n)]);
    default:
      return val;
  }
}

module.exports = { toJco, fromJco, camel, InputError };
