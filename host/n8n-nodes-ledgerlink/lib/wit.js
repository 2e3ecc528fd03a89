'use strict';
/**
 * A reader for the part of WIT the Ledgerlink contract uses (`wit/ledgerlink.wit`): interfaces
 * with `type`, `record`, `enum`, `variant`, `flags`, `use` and functions. Worlds and packages are
 * skipped. It gives the JS hosts the component's types, so that values are converted by type,
 * as `host/src/runtime/dynamic.rs` does with wasmtime's reflection, and never guessed from the
 * JSON's shape.
 *
 * A type is one of:
 * `{kind: 'bool'|'string'|'char'|'u8'|..|'s64'|'f32'|'f64'}`, `{kind: 'list', of}`,
 * `{kind: 'option', of}`, `{kind: 'result', ok, err}` (either may be null), `{kind: 'tuple', of: []}`,
 * `{kind: 'record', name, fields: [{name, type}]}`, `{kind: 'enum', name, cases: []}`,
 * `{kind: 'variant', name, cases: [{name, type}]}`, `{kind: 'flags', name, names: []}`.
 * Named types are resolved lazily (records may refer to types defined further down).
 */

const PRIMITIVES = new Set([
  'bool', 'string', 'char', 'u8', 'u16', 'u32', 'u64', 's8', 's16', 's32', 's64', 'f32', 'f64',
]);

function tokenize(text) {
  const tokens = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (/\s/.test(c)) { i++; continue; }
    if (text.startsWith('//', i)) { while (i < text.length && text[i] !== '\n') i++; continue; }
    if (text.startsWith('/*', i)) {
      const end = text.indexOf('*/', i + 2);
      if (end < 0) throw new Error('unterminated comment');
      i = end + 2; continue;
    }
    if (text.startsWith('->', i)) { tokens.push('->'); i += 2; continue; }
    if ('{}()<>,:;=.@/*_'.includes(c) && !(c === '_' && /[A-Za-z0-9]/.test(text[i + 1] || ''))) {
      tokens.push(c); i++; continue;
    }
    const m = /^%?[A-Za-z0-9][A-Za-z0-9-]*(\.[0-9][A-Za-z0-9.+-]*)?/.exec(text.slice(i, i + 200));
    if (!m) throw new Error(`WIT: unexpected ${JSON.stringify(text.slice(i, i + 20))}`);
    tokens.push(m[0]);
    i += m[0].length;
  }
  return tokens;
}

class Parser {
  constructor(tokens) { this.t = tokens; this.i = 0; }
  peek(n = 0) { return this.t[this.i + n]; }
  next() {
    if (this.i >= this.t.length) throw new Error('WIT: unexpected end');
    return this.t[this.i++];
  }
  expect(tok) {
    const got = this.next();
    if (got !== tok) throw new Error(`WIT: expected ${tok}, found ${got} (token ${this.i})`);
  }
  eat(tok) { if (this.peek() === tok) { this.i++; return true; } return false; }
  ident() { return this.next().replace(/^%/, ''); }
  skipBlock() {
    this.expect('{');
    let depth = 1;
    while (depth > 0) {
      const tok = this.next();
      if (tok === '{') depth++;
      if (tok === '}') depth--;
    }
  }
  skipTo(tok) { while (this.next() !== tok); }
  /** Comma-separated items up to `close`, allowing a trailing comma. */
  list(close, item) {
    const out = [];
    while (!this.eat(close)) {
      out.push(item());
      if (!this.eat(',')) { this.expect(close); break; }
    }
    return out;
  }
  type() {
    const name = this.ident();
    if (PRIMITIVES.has(name)) return { kind: name };
    switch (name) {
      case 'list': { this.expect('<'); const of = this.type(); this.expect('>'); return { kind: 'list', of }; }
      case 'option': { this.expect('<'); const of = this.type(); this.expect('>'); return { kind: 'option', of }; }
      case 'tuple': { this.expect('<'); return { kind: 'tuple', of: this.list('>', () => this.type()) }; }
      case 'result': {
        if (!this.eat('<')) return { kind: 'result', ok: null, err: null };
        let ok = null;
        if (this.eat('_')) ok = null; else ok = this.type();
        let err = null;
        if (this.eat(',')) err = this.type();
        this.expect('>');
        return { kind: 'result', ok, err };
      }
      default: return { kind: 'ref', name };
    }
  }
}

/** Parses WIT text into `{interfaces: {name: {types: {name: type}, funcs: {name: {params, result}}}}}`. */
function parseWit(text) {
  const p = new Parser(tokenize(text));
  const interfaces = {};
  while (p.i < p.t.length) {
    const tok = p.next();
    if (tok === 'package') { p.skipTo(';'); continue; }
    if (tok === 'world') { p.ident(); p.skipBlock(); continue; }
    if (tok !== 'interface') throw new Error(`WIT: unexpected ${tok} at top level`);
    const iface = { name: p.ident(), types: {}, funcs: {}, uses: {} };
    interfaces[iface.name] = iface;
    p.expect('{');
    while (!p.eat('}')) {
      const kw = p.peek();
      if (kw === 'use') {
        p.next();
        const from = p.ident();
        p.expect('.');
        p.expect('{');
        p.list('}', () => {
          const name = p.ident();
          const alias = p.eat('as') ? p.ident() : name;
          iface.uses[alias] = { from, name };
        });
        p.expect(';');
      } else if (kw === 'type') {
        p.next();
        const name = p.ident();
        p.expect('=');
        iface.types[name] = p.type();
        p.expect(';');
      } else if (kw === 'record') {
        p.next();
        const name = p.ident();
        p.expect('{');
        const fields = p.list('}', () => { const f = p.ident(); p.expect(':'); return { name: f, type: p.type() }; });
        iface.types[name] = { kind: 'record', name, fields };
      } else if (kw === 'enum') {
        p.next();
        const name = p.ident();
        p.expect('{');
        iface.types[name] = { kind: 'enum', name, cases: p.list('}', () => p.ident()) };
      } else if (kw === 'flags') {
        p.next();
        const name = p.ident();
        p.expect('{');
        iface.types[name] = { kind: 'flags', name, names: p.list('}', () => p.ident()) };
      } else if (kw === 'variant') {
        p.next();
        const name = p.ident();
        p.expect('{');
        const cases = p.list('}', () => {
          const c = p.ident();
          let type = null;
          if (p.eat('(')) { type = p.type(); p.expect(')'); }
          return { name: c, type };
        });
        iface.types[name] = { kind: 'variant', name, cases };
      } else if (kw === 'resource') {
        throw new Error('WIT: resources are not part of the Ledgerlink contract');
      } else {
        const name = p.ident();
        p.expect(':');
        p.expect('func');
        p.expect('(');
        const params = p.list(')', () => { const n = p.ident(); p.expect(':'); return { name: n, type: p.type() }; });
        const result = p.eat('->') ? p.type() : null;
        p.expect(';');
        iface.funcs[name] = { name, params, result };
      }
    }
  }
  const contract = { interfaces };
  for (const iface of Object.values(interfaces)) {
    for (const def of Object.values(iface.types)) resolveIn(contract, iface, def);
    for (const f of Object.values(iface.funcs)) {
      f.params.forEach((param) => { param.type = resolveIn(contract, iface, param.type); });
      if (f.result) f.result = resolveIn(contract, iface, f.result);
    }
  }
  return contract;
}

function lookup(contract, iface, name) {
  if (iface.types[name]) return iface.types[name];
  const used = iface.uses[name];
  if (used) {
    const from = contract.interfaces[used.from];
    if (!from) throw new Error(`WIT: ${iface.name} uses unknown interface ${used.from}`);
    return lookup(contract, from, used.name);
  }
  throw new Error(`WIT: ${iface.name}: unknown type ${name}`);
}

/** Replaces `ref` nodes by their definitions, in place (type aliases collapse to their target). */
function resolveIn(contract, iface, type, seen = new Set()) {
  if (!type) return type;
  if (type.kind === 'ref') {
    const def = lookup(contract, iface, type.name);
    return def.kind === 'ref' ? resolveIn(contract, iface, def, seen) : resolveIn(contract, iface, def, seen);
  }
  if (seen.has(type)) return type;
  seen.add(type);
  const r = (t) => resolveIn(contract, iface, t, seen);
  switch (type.kind) {
    case 'list': case 'option': type.of = r(type.of); break;
    case 'tuple': type.of = type.of.map(r); break;
    case 'result': type.ok = r(type.ok); type.err = r(type.err); break;
    case 'record': type.fields.forEach((f) => { f.type = r(f.type); }); break;
    case 'variant': type.cases.forEach((c) => { c.type = r(c.type); }); break;
    default: break;
  }
  return type;
}

/** The function `name` of interface `iface`, or an error naming the functions there are. */
function func(contract, iface, name) {
  const i = contract.interfaces[iface];
  if (!i) throw new Error(`no interface ${iface} in the contract`);
  const f = i.funcs[name];
  if (!f) throw new Error(`unknown function ${JSON.stringify(name)} (one of: ${Object.keys(i.funcs).join(', ')})`);
  return f;
}

module.exports = { parseWit, func };
