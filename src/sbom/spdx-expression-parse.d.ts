// spdx-expression-parse ships no types: the parse tree as its README describes it.
declare module "spdx-expression-parse" {
  type Node =
    | { license: string; plus?: true; exception?: string }
    | { left: Node; conjunction: "and" | "or"; right: Node };
  function parse(source: string): Node;
  export default parse;
}
