/* describe.h - `mcmcd samplers`: the sampler table as text, every
 * parameter with its type, default, bounds and help, for people (the
 * README points here rather than keeping a copy). */
#ifndef MCMCD_DESCRIBE_H
#define MCMCD_DESCRIBE_H

int describe_samplers_main(int argc, char **argv);

#endif
