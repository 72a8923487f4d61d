/**
 * A translator for the KQL subset our saved objects use, to the query DSL Kibana generates for it:
 * `field: value` (match; a quoted value is match_phrase; `*` is exists), `field: (a or b and not c)`,
 * `and` (bool.filter), `or` (bool.should, minimum_should_match 1), `not` (bool.must_not) and parentheses.
 * Precedence as in KQL: not, then and, then or. Anything else (ranges, wildcards inside values, nested
 * queries) is refused, so a saved query outside the subset fails its test instead of being half translated.
 */

export type Query = Record<string, unknown>;

export interface KqlTerm {
  field: string;
  value: string;
}

export interface Translated {
  query: Query;
  /** Every `field: value` pair, for the mapping and vocabulary checks. */
  terms: KqlTerm[];
}

type Token = { kind: 'open' | 'close' | 'colon' } | { kind: 'word'; text: string } | { kind: 'quoted'; text: string };

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      i += 1;
    } else if (c === '(' || c === ')' || c === ':') {
      tokens.push({ kind: c === '(' ? 'open' : c === ')' ? 'close' : 'colon' });
      i += 1;
    } else if (c === '"') {
      let j = i + 1;
      let value = '';
      while (j < text.length && text[j] !== '"') {
        if (text[j] === '\\') j += 1;
        value += text[j] ?? '';
        j += 1;
      }
      if (j >= text.length) throw new Error(`KQL: unterminated string in ${JSON.stringify(text)}`);
      tokens.push({ kind: 'quoted', text: value });
      i = j + 1;
    } else {
      const match = /^[^\s():"]+/.exec(text.slice(i))!;
      if (/[<>*]/.test(match[0]) && match[0] !== '*') throw new Error(`KQL: "${match[0]}" is outside the supported subset`);
      tokens.push({ kind: 'word', text: match[0] });
      i += match[0].length;
    }
  }
  return tokens;
}

const isKeyword = (token: Token | undefined, word: string): boolean => token?.kind === 'word' && token.text.toLowerCase() === word;

export function translateKql(text: string): Translated {
  const terms: KqlTerm[] = [];
  if (text.trim() === '') return { query: { match_all: {} }, terms };
  const tokens = tokenize(text);
  let pos = 0;
  const peek = (): Token | undefined => tokens[pos];
  const expect = (kind: Token['kind']): Token => {
    const token = tokens[pos];
    if (token?.kind !== kind) throw new Error(`KQL: expected ${kind} at token ${pos} of ${JSON.stringify(text)}`);
    pos += 1;
    return token;
  };

  const or = (clauses: Query[]): Query => (clauses.length === 1 ? clauses[0]! : { bool: { should: clauses, minimum_should_match: 1 } });
  const and = (clauses: Query[]): Query => (clauses.length === 1 ? clauses[0]! : { bool: { filter: clauses } });

  /** Boolean structure shared by whole expressions and value lists; `leaf` parses one operand. */
  function booleans(leaf: () => Query): Query {
    const parseNot = (): Query => {
      if (isKeyword(peek(), 'not')) {
        pos += 1;
        return { bool: { must_not: [parseNot()] } };
      }
      return leaf();
    };
    const parseAnd = (): Query => {
      const clauses = [parseNot()];
      while (isKeyword(peek(), 'and')) {
        pos += 1;
        clauses.push(parseNot());
      }
      return and(clauses);
    };
    const clauses = [parseAnd()];
    while (isKeyword(peek(), 'or')) {
      pos += 1;
      clauses.push(parseAnd());
    }
    return or(clauses);
  }

  function value(field: string): Query {
    const token = peek();
    if (token?.kind === 'open') {
      pos += 1;
      const inner = booleans(() => value(field));
      expect('close');
      return inner;
    }
    if (token?.kind === 'word' && !['and', 'or', 'not'].includes(token.text.toLowerCase())) {
      pos += 1;
      if (token.text === '*') return { exists: { field } };
      terms.push({ field, value: token.text });
      return { match: { [field]: token.text } };
    }
    if (token?.kind === 'quoted') {
      pos += 1;
      terms.push({ field, value: token.text });
      return { match_phrase: { [field]: token.text } };
    }
    throw new Error(`KQL: expected a value for ${field} in ${JSON.stringify(text)}`);
  }

  function primary(): Query {
    if (peek()?.kind === 'open') {
      pos += 1;
      const inner = booleans(primary);
      expect('close');
      return inner;
    }
    const field = expect('word') as { text: string };
    expect('colon');
    return value(field.text);
  }

  const query = booleans(primary);
  if (pos !== tokens.length) throw new Error(`KQL: unexpected input after token ${pos} of ${JSON.stringify(text)}`);
  return { query, terms };
}
