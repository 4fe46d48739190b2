package server

// Greeting is the line GET / answers; bench/quest.ts rewrites this file for each edit.
const Greeting = "quest says hello"
