'use strict';
/**
 * WIT-JSON <-> WAVE (the WebAssembly Value Encoding that `wasmtime run --invoke` reads and prints),
 * by type, with the types read from the contract (`wit/ledgerlink.wit`).
 *
 * | WIT | WAVE |
 * |---|---|
 * | record | `{field: value, ...}` (`{:}` when empty; the CLI leaves out `none` fields) |
 * | enum, variant | `case`, `case(payload)`; a case named like a keyword is written `%case` |
 * | option | `some(v)` / `none` |
 * | result | `ok(v)` / `err(v)` |
 * | list / tuple | `[a, b]` / `(a, b)` |
 * | string / char | `"..."` / `'c'` with `\n \r \t \\ \" \' \u{..}` escapes |
 */

const KEYWORDS = new Set(['true', 'false', 'some', 'none', 'ok', 'err', 'inf', 'nan']);

function label(name) { return KEYWORDS.has(name) ? `%${name}` : name; }

function quote(s, q) {
  let out = q;
  for (const ch of s) {
    if (ch === '\\') out += '\\\\';
    else if (ch === q) out += `\\${q}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (/\p{Cc}/u.test(ch)) out += `\\u{${ch.codePointAt(0).toString(16)}}`;
    else out += ch;
  }
  return out + q;
}

/** WIT-JSON -> WAVE text for type `ty`. The JSON is trusted to fit (fixtures are typed inputs). */
function toWave(json, ty) {
  switch (ty.kind) {
    case 'bool': return json ? 'true' : 'false';
    case 'string': return quote(json, '"');
    case 'char': return quote(json, "'");
    case 'u8': case 'u16': case 'u32': case 'u64': case 's8': case 's16': case 's32': case 's64':
      return String(json);
    case 'list': return `[${json.map((v) => toWave(v, ty.of)).join(', ')}]`;
    case 'tuple': return `(${json.map((v, i) => toWave(v, ty.of[i])).join(', ')})`;
    case 'option': return json === null || json === undefined ? 'none' : `some(${toWave(json, ty.of)})`;
    case 'record': {
      const fields = ty.fields.map((f) => {
        const v = f.name in json ? json[f.name] : null;
        return `${label(f.name)}: ${toWave(v, f.type)}`;
      });
      return fields.length ? `{${fields.join(', ')}}` : '{:}';
    }
    case 'enum': return label(json);
    case 'variant': {
      const [name, payload] = typeof json === 'string' ? [json, undefined] : Object.entries(json)[0];
      const c = ty.cases.find((k) => k.name === name);
      if (!c) throw new Error(`${JSON.stringify(name)} is not a case of ${ty.name}`);
      return c.type ? `${label(name)}(${toWave(payload, c.type)})` : label(name);
    }
    case 'result': {
      const tag = 'ok' in json ? 'ok' : 'err';
      return ty[tag] ? `${tag}(${toWave(json[tag], ty[tag])})` : tag;
    }
    case 'flags': return `{${json.map(label).join(', ')}}`;
    default: throw new Error(`WAVE: unsupported type ${ty.kind}`);
  }
}

function tokenize(text) {
  const tokens = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (/\s/.test(c)) { i++; continue; }
    if ('{}[](),:'.includes(c)) { tokens.push({ t: c }); i++; continue; }
    if (c === '"' || c === "'") {
      let s = '';
      i++;
      while (text[i] !== c) {
        if (i >= text.length) throw new Error('WAVE: unterminated literal');
        if (text[i] === '\\') {
          const e = text[i + 1];
          if (e === 'u') {
            const end = text.indexOf('}', i);
            s += String.fromCodePoint(parseInt(text.slice(i + 3, end), 16));
            i = end + 1;
            continue;
          }
          const unescaped = { n: '\n', r: '\r', t: '\t', '\\': '\\', '"': '"', "'": "'" }[e];
          if (unescaped === undefined) throw new Error(`WAVE: unknown escape \\${e}`);
          s += unescaped;
          i += 2;
          continue;
        }
        s += text[i];
        i++;
      }
      i++;
      tokens.push({ t: c === '"' ? 'string' : 'char', v: s });
      continue;
    }
    const m = /^(-?[0-9][0-9.eE+-]*|%?[A-Za-z][A-Za-z0-9-]*)/.exec(text.slice(i, i + 400));
    if (!m) throw new Error(`WAVE: unexpected ${JSON.stringify(text.slice(i, i + 20))}`);
    tokens.push(/^-?[0-9]/.test(m[0]) ? { t: 'number', v: m[0] } : { t: 'label', v: m[0] });
    i += m[0].length;
  }
  return tokens;
}

/** WAVE text of type `ty` -> WIT-JSON (every record field present, `null` for `none`). */
function fromWave(text, ty) {
  const tokens = tokenize(text);
  let pos = 0;
  const peek = () => tokens[pos] || { t: 'end' };
  const next = () => { const tok = peek(); pos++; return tok; };
  const expect = (t) => { const tok = next(); if (tok.t !== t) throw new Error(`WAVE: expected ${t}, found ${tok.t} ${tok.v || ''}`); return tok; };
  const labelName = () => expect('label').v.replace(/^%/, '');
  const seq = (close, item) => {
    const out = [];
    while (peek().t !== close) {
      out.push(item());
      if (peek().t === ',') next(); else break;
    }
    expect(close);
    return out;
  };
  const payload = (t) => { expect('('); const v = value(t); expect(')'); return v; };

  function value(t) {
    switch (t.kind) {
      case 'bool': { const v = labelName(); if (v !== 'true' && v !== 'false') throw new Error(`WAVE: ${v} is not a bool`); return v === 'true'; }
      case 'string': return expect('string').v;
      case 'char': return expect('char').v;
      case 'u8': case 'u16': case 'u32': case 's8': case 's16': case 's32': return Number(expect('number').v);
      case 'u64': case 's64': { const n = BigInt(expect('number').v); return n <= BigInt(Number.MAX_SAFE_INTEGER) && n >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(n) : n.toString(); }
      case 'list': expect('['); return seq(']', () => value(t.of));
      case 'tuple': { expect('('); let i = 0; return seq(')', () => value(t.of[i++])); }
      case 'option': {
        const tok = peek();
        if (tok.t === 'label' && tok.v === 'none') { next(); return null; }
        if (tok.t === 'label' && tok.v === 'some') { next(); return payload(t.of); }
        return value(t.of); // WAVE allows an option's value without `some(..)`
      }
      case 'record': {
        expect('{');
        const got = {};
        if (peek().t === ':') { next(); expect('}'); } else {
          seq('}', () => {
            const name = labelName();
            const f = t.fields.find((k) => k.name === name);
            if (!f) throw new Error(`WAVE: ${name} is not a field of ${t.name}`);
            expect(':');
            got[name] = value(f.type);
          });
        }
        const out = {};
        for (const f of t.fields) {
          if (f.name in got) out[f.name] = got[f.name];
          else if (f.type.kind === 'option') out[f.name] = null;
          else throw new Error(`WAVE: ${t.name}.${f.name} is missing`);
        }
        return out;
      }
      case 'enum': { const v = labelName(); if (!t.cases.includes(v)) throw new Error(`WAVE: ${v} is not a case of ${t.name}`); return v; }
      case 'variant': {
        const name = labelName();
        const c = t.cases.find((k) => k.name === name);
        if (!c) throw new Error(`WAVE: ${name} is not a case of ${t.name}`);
        return c.type ? { [name]: payload(c.type) } : name;
      }
      case 'result': {
        const tag = labelName();
        if (tag !== 'ok' && tag !== 'err') throw new Error(`WAVE: expected ok or err, found ${tag}`);
        return { [tag]: t[tag] ? payload(t[tag]) : null };
      }
      case 'flags': expect('{'); return seq('}', () => labelName());
      default: throw new Error(`WAVE: unsupported type ${t.kind}`);
    }
  }
  const out = value(ty);
  if (pos !== tokens.length) throw new Error(`WAVE: trailing input at token ${pos}`);
  return out;
}

module.exports = { toWave, fromWave };
