/* mod_nosym.c — a shared object that is not a renewd plugin. */
int not_a_plugin(void);
int not_a_plugin(void) { return 42; }
