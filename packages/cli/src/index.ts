export { main } from './main.js'
export { runDemo } from './demo.js'
