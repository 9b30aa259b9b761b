import { isPostStep } from './state'
import { run as runMain } from './main'
import { run as runPost } from './post'

/** The action's entry: the same bundle runs as the main step and as the post step (see action.yml). */
void (isPostStep() ? runPost() : runMain())
